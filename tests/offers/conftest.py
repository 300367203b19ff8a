"""Offer tests run on the session's database (SQLite or PostgreSQL, see tests/conftest.py)."""
