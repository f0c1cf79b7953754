"""SQL that differs between the two storages (SQLite, PostgreSQL), written once for every module.

Modules build statements with SQLAlchemy Core and never ask which database they are on: where
the dialects differ (inserts that skip or update on a conflict, what a timestamp column hands
back, the larger of two values), they use these helpers instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, overload

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles

#: What a dialect-specific insert is taken for: a connection, a dialect, or a dialect's name.
DialectLike = sa.Connection | Any | Dialect | str

T = TypeVar("T")


def _dialect_name(where: DialectLike) -> str:
    if isinstance(where, str):
        return where
    if isinstance(where, Dialect):
        return str(where.name)
    return str(where.dialect.name)  # a (sync or async) connection or engine


def upsertable(where: DialectLike, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can take ``on_conflict_do_nothing`` / ``on_conflict_do_update``.

    Both dialects spell those clauses (and ``.excluded``) the same way, so the caller writes one
    statement. ``where`` is the connection it will run on (or its dialect or dialect name).
    """
    if _dialect_name(where) == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


def insert_or_ignore(where: DialectLike, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT whose rows that collide with an existing key are skipped (not an error)."""
    return upsertable(where, table).on_conflict_do_nothing()


class PerDialect(Generic[T]):
    """Something that differs by dialect (an upsert or an insert-or-ignore as a ``HotWrite``, or
    a set of them), built on first use once per dialect and kept: on a hot path, building such a
    statement per call costs more than the database takes to run it.

        _INSERT_LIKE = PerDialect(lambda d: HotWrite(insert_or_ignore(d, likes), ("user_id", ...)))
        await tx.write(_INSERT_LIKE(tx.conn), row)
    """

    __slots__ = ("_build", "_built")

    def __init__(self, build: Callable[[str], T]) -> None:
        self._build = build
        self._built: dict[str, T] = {}

    def __call__(self, where: DialectLike) -> T:
        """What ``build`` made for the dialect of ``where`` (a connection, a dialect or its name)."""
        name = _dialect_name(where)
        built = self._built.get(name)
        if built is None:
            built = self._built[name] = self._build(name)
        return built


def as_utc(moment: datetime) -> datetime:
    """The same instant as an aware UTC datetime (a naive one is taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@overload
def hot_read_utc(value: datetime | str) -> datetime: ...
@overload
def hot_read_utc(value: None) -> None: ...
@overload
def hot_read_utc(value: datetime | str | None) -> datetime | None: ...
def hot_read_utc(value: datetime | str | None) -> datetime | None:
    """A ``UtcDateTime`` column's value as a ``HotRead`` returns it, made what the column type
    would have made it: on SQLite the stored text (parsed as SQLAlchemy's SQLite dialect parses
    it), on PostgreSQL an aware datetime already; aware, in UTC, either way."""
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that always comes back aware, in UTC, whatever the database.

    SQLite keeps no time zone and hands back naive datetimes; PostgreSQL's ``timestamptz`` hands
    back aware ones. Values written are turned to UTC, values read are made aware, so no module
    needs a "naive means UTC" fix of its own. The column type in the database is the same as
    ``DateTime(timezone=True)``, so no migration is needed to use it.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class greatest(sa.sql.functions.GenericFunction[Any]):
    """The largest of its arguments: ``greatest(a, b)`` on PostgreSQL, ``max(a, b)`` on SQLite
    (whose scalar ``max`` with two or more arguments is the same function)."""

    name = "greatest"
    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_on_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"
