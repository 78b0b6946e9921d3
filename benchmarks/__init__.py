"""Speed benchmarks (run by hand; never timed in tests)."""
