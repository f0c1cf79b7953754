"""Helpers shared by the test suites (real PostgreSQL and Redis, never fakes)."""
