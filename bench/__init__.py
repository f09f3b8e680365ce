"""Benchmarks of the fairness engine (run as modules, e.g. ``python -m bench.metrics --rows 1000000``)."""
