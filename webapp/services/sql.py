"""Small SQL helpers that differ between SQLite and PostgreSQL."""
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def insert_ignoring_conflicts(table, index_elements):
    """`INSERT … ON CONFLICT (index_elements) DO NOTHING` for the current dialect."""
    return insert_ignoring_conflicts_for(dialect_name(), table, index_elements)


def insert_ignoring_conflicts_for(dialect: str, table, index_elements):
    """The same, for a named dialect (for code running on a connection of its own)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)
