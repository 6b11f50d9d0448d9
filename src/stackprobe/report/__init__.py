"""Reports, generated from check records only: terminal, Markdown, JSON and JUnit."""
