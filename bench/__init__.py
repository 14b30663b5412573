"""Benchmarks (not tests): `python -m bench` measures, prints and writes bench/results/."""
