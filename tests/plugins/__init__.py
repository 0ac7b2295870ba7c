"""Shared fixtures, loaded as pytest plugins by tests/conftest.py."""
