"""Developer tools (benchmarks)."""
