"""Benchmarks: figures printed, and written as JSON on request; never timed tests."""
