"""Small SQL helpers that differ between SQLite and PostgreSQL."""
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def insert_ignoring_conflicts(table, index_elements):
    """`INSERT … ON CONFLICT (index_elements) DO NOTHING` for the current dialect."""
    insert = postgresql.insert if dialect_name() == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)
