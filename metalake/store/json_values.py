"""Reading scalars out of JSON columns in SQL, the same way on SQLite and PostgreSQL.

SQLAlchemy's JSON indexing casts blindly (a text value cast to a number fails on PostgreSQL),
so these helpers check the JSON type first: a value that is not a number reads as NULL.
"""

from __future__ import annotations

import sqlalchemy as sa

Expression = sa.ColumnElement


def _sqlite_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def json_text(dialect: str, column: Expression, key: str) -> Expression:
    """The text of `column[key]` (a number as its JSON text), NULL if missing or not a scalar."""
    if dialect == "postgresql":
        value = column.op("->")(sa.literal(key, sa.Text))
        return sa.case(
            (
                sa.func.json_typeof(value).in_(("string", "number", "boolean")),
                column.op("->>")(sa.literal(key, sa.Text)),
            ),
        )
    path = sa.literal(_sqlite_path(key), sa.Text)
    return sa.case(
        (
            sa.func.json_type(column, path).in_(("text", "integer", "real")),
            sa.cast(sa.func.json_extract(column, path), sa.Text),
        ),
        (sa.func.json_type(column, path) == "true", sa.literal("true")),
        (sa.func.json_type(column, path) == "false", sa.literal("false")),
    )


def json_number(dialect: str, column: Expression, key: str) -> Expression:
    """`column[key]` as a number, NULL if missing or not a JSON number."""
    if dialect == "postgresql":
        value = column.op("->")(sa.literal(key, sa.Text))
        text = column.op("->>")(sa.literal(key, sa.Text))
        return sa.case((sa.func.json_typeof(value) == "number", sa.cast(text, sa.Float)))
    path = sa.literal(_sqlite_path(key), sa.Text)
    return sa.case(
        (
            sa.func.json_type(column, path).in_(("integer", "real")),
            sa.func.json_extract(column, path),
        )
    )


def json_array_elements(dialect: str, column: Expression, key: str) -> sa.TableValuedAlias:
    """The elements of the JSON array `column[key]` as rows with one JSON column, `value`."""
    if dialect == "postgresql":
        array = column.op("->")(sa.literal(key, sa.Text))
        safe = sa.case((sa.func.json_typeof(array) == "array", array))
        return sa.func.json_array_elements(safe).table_valued(sa.column("value", sa.JSON))
    path = sa.literal(_sqlite_path(key), sa.Text)
    safe = sa.case((sa.func.json_type(column, path) == "array", column))
    return sa.func.json_each(safe, path).table_valued(sa.column("value", sa.JSON))


def json_object_agg(dialect: str, key: Expression, value: Expression) -> Expression:
    """An aggregate of rows into one JSON object text, `key: value` (JSON) per row."""
    if dialect == "postgresql":
        return sa.cast(sa.func.json_object_agg(key, value), sa.Text)
    return sa.func.json_group_object(key, sa.func.json(value))


def json_array_agg(dialect: str, value: Expression) -> Expression:
    """An aggregate of rows into one JSON array text of their (text) values."""
    if dialect == "postgresql":
        return sa.cast(sa.func.json_agg(value), sa.Text)
    return sa.func.json_group_array(value)
