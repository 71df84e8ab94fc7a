"""Execution-order snapshot testing for flowtrace flows (see docs/testing.md)."""
