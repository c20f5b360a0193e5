"""Benchmarks: reproducible, seeded measurements against baselines run in the same process."""
