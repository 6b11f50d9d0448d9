"""Repository-level pytest configuration.

The stackprobe plugin itself is registered through the `pytest11` entry point (see pyproject.toml);
this file only holds what is specific to this repository's own test suite.
"""
