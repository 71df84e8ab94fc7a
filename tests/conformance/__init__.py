"""A package, so that its conftest.py has a module name of its own (pytest and mypy)."""
