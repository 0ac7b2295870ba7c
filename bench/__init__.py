"""Benchmarks that print figures (run as scripts; the tests never import them)."""
