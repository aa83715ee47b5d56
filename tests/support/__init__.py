"""Helpers shared by the tests: real databases (SQLite and PostgreSQL), corpus paths."""
