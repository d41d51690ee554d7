"""Benchmarks: one file per evaluation protocol (PLISM robustness, ...)."""
