"""Benchmarks: run a module with `python -m tools.bench.<name>`."""
