"""Storage: SQLAlchemy 2 models, engines and one module of queries per aggregate.

Only this package talks SQL. Backend quirks (SQLite pragmas, upserts) live in ``db.py``.
"""
