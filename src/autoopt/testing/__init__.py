"""Helpers for tests and for trying autoopt locally: ``autoopt.testing.postgres`` starts a throwaway
PostgreSQL server (``python -m autoopt.testing.postgres start``)."""
