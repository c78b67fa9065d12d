"""Automated compression policies (placeholder while the package is built)."""
