"""Emulated AWS backends (embedded moto, LocalStack) and the guard that pins every run to one."""
