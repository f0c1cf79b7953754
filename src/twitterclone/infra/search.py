"""Full-text search behind one small interface, on either storage.

A module indexes documents (an integer id and a few text fields) in the transaction that writes
them and asks for the ids matching every term, newest (highest id) first, below a cursor:

* SQLite: an FTS5 virtual table (``rowid`` = document id, one column per field), written and
  deleted in the same transaction as the document.
* PostgreSQL: one ``tsvector`` column per field on the document's own table (GIN-indexed by the
  module's migration), filled on insert; the row's deletion removes it from the index.

Terms hold only letters and digits (the module cuts user input into terms), so quoting them
cannot break out of an FTS5 string; on PostgreSQL every value is a bound parameter anyway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncConnection

from twitterclone.infra.store import HotWrite, ModuleStore, Reader, Transaction

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_TOKENS = re.compile(r"[^\W_]+(?: [^\W_]+)*")


@dataclass(frozen=True, slots=True)
class Term:
    """One term of a query: a phrase of letter/digit tokens that ``field`` must contain."""

    field: str
    phrase: str


class FullTextIndex(Protocol):
    """Documents by id, searchable by the words of their fields."""

    async def add(self, tx: Transaction, doc_id: int, fields: Mapping[str, str]) -> None:
        """Index a document (in the transaction that writes it)."""
        ...

    async def remove(self, conn: AsyncConnection, doc_id: int) -> None:
        """Forget a document (in the transaction that deletes it)."""
        ...

    async def search(
        self,
        conn: Reader,
        terms: Sequence[Term],
        before: int,
        limit: int,
        *,
        after: int = -1,
        oldest_first: bool = False,
    ) -> list[int]:
        """Ids of documents matching every term, between ``after`` and ``before`` (both exclusive),
        at most ``limit``: the highest first, or with ``oldest_first`` the lowest first (the
        ``limit`` ids just above ``after``)."""
        ...


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def _check_terms(terms: Sequence[Term], fields: Sequence[str]) -> None:
    for term in terms:
        if term.field not in fields:
            raise ValueError(f"no field {term.field!r} in this index; fields: {', '.join(fields)}")
        if not _TOKENS.fullmatch(term.phrase):
            raise ValueError(f"a search phrase holds letter/digit tokens only: {term.phrase!r}")


class Fts5Index:
    """SQLite's FTS5: a virtual table ``table`` with one column per field, ``rowid`` = id."""

    def __init__(self, table: str, fields: Sequence[str]) -> None:
        self.fields = [_identifier(f) for f in fields]
        name = _identifier(table)
        columns = ", ".join(self.fields)
        params = ", ".join(f":{f}" for f in self.fields)
        # Every post is indexed: straight through the driver on the loop's writer (``HotWrite``).
        self._insert = HotWrite(
            sa.text(f"INSERT INTO {name} (rowid, {columns}) VALUES (:id, {params})"),  # noqa: S608
            ("id", *self.fields),
        )
        self._delete = sa.text(f"DELETE FROM {name} WHERE rowid = :id")  # noqa: S608
        where = (
            f"SELECT rowid FROM {name} WHERE {name} MATCH :match "  # noqa: S608
            "AND rowid < :before AND rowid > :after"
        )
        self._newest = sa.text(f"{where} ORDER BY rowid DESC LIMIT :limit")
        self._oldest = sa.text(f"{where} ORDER BY rowid ASC LIMIT :limit")

    async def add(self, tx: Transaction, doc_id: int, fields: Mapping[str, str]) -> None:
        await tx.write(self._insert, {"id": doc_id, **{f: fields.get(f, "") for f in self.fields}})

    async def remove(self, conn: AsyncConnection, doc_id: int) -> None:
        await conn.execute(self._delete, {"id": doc_id})

    async def search(
        self,
        conn: Reader,
        terms: Sequence[Term],
        before: int,
        limit: int,
        *,
        after: int = -1,
        oldest_first: bool = False,
    ) -> list[int]:
        _check_terms(terms, self.fields)
        if not terms:
            return []
        match = " AND ".join(f'{t.field} : "{t.phrase}"' for t in terms)
        result = await conn.execute(
            self._oldest if oldest_first else self._newest,
            {"match": match, "before": before, "after": after, "limit": limit},
        )
        return [int(i) for i in result.scalars()]


class PostgresFullTextIndex:
    """PostgreSQL: ``tsvector`` columns (``columns[field]``) on the documents' table ``table``.

    The ``simple`` configuration (no stemming, no stop words) matches words as FTS5's default
    tokenizer does, so both storages find the same documents.
    """

    _CONFIG: sa.ColumnElement[Any] = sa.literal_column("'simple'::regconfig")

    def __init__(self, table: str, key: str, columns: Mapping[str, str]) -> None:
        self.fields = list(columns)
        self._table = sa.Table(
            _identifier(table),
            sa.MetaData(),
            sa.Column(_identifier(key), sa.BigInteger(), primary_key=True),
            *(sa.Column(_identifier(c), TSVECTOR()) for c in columns.values()),
        )
        self._key = self._table.c[key]
        self._columns: dict[str, Any] = {f: self._table.c[c] for f, c in columns.items()}

    async def add(self, tx: Transaction, doc_id: int, fields: Mapping[str, str]) -> None:
        await tx.conn.execute(
            sa.update(self._table)
            .where(self._key == doc_id)
            .values(
                {
                    column: sa.func.to_tsvector(self._CONFIG, fields.get(f, ""))
                    for f, column in self._columns.items()
                }
            )
        )

    async def remove(self, conn: AsyncConnection, doc_id: int) -> None:
        return None  # the vectors are columns of the document's row: they go with it

    async def search(
        self,
        conn: Reader,
        terms: Sequence[Term],
        before: int,
        limit: int,
        *,
        after: int = -1,
        oldest_first: bool = False,
    ) -> list[int]:
        _check_terms(terms, self.fields)
        if not terms:
            return []
        conditions = [
            self._columns[t.field].op("@@")(sa.func.phraseto_tsquery(self._CONFIG, t.phrase)) for t in terms
        ]
        result = await conn.execute(
            sa.select(self._key)
            .where(*conditions, self._key < before, self._key > after)
            .order_by(self._key.asc() if oldest_first else self._key.desc())
            .limit(limit)
        )
        return [int(i) for i in result.scalars()]


def full_text_index(
    store: ModuleStore, *, table: str, key: str, fields: Mapping[str, str], fts5_table: str
) -> FullTextIndex:
    """The index for ``store``'s database: documents are rows of ``table`` (id column ``key``).

    ``fields`` maps each field to its ``tsvector`` column on PostgreSQL; on SQLite the fields are
    the columns of the FTS5 table ``fts5_table``. Both are created by the module's migration.
    """
    if store.is_sqlite:
        return Fts5Index(fts5_table, list(fields))
    return PostgresFullTextIndex(table, key, fields)
