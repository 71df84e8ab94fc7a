"""pytest plugin registered by entry point (fixtures for flowtrace snapshot tests)."""
