"""Benchmarks run by hand (``.venv/bin/python bench/throughput.py``); not part of the test suite."""
