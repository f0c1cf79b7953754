"""A module's own database, with its transactional outbox and its consumer inbox.

Each module owns one ``ModuleStore``: an engine on its own SQLite file (embedded default)
or its own PostgreSQL schema. Writes that others care about go through
``store.transaction()``, whose ``emit`` writes the event to the outbox table in the same
transaction as the change; the relay is woken once the transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa
from sqlalchemy import CursorResult, Executable
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util.typing import TupleAny

from boundaries._kernel.events import Event

#: Columns shared by every module's outbox. Migrations create the same shape.
OUTBOX_TABLE = "outbox"
INBOX_TABLE = "inbox"

_event_encoder = msgspec.json.Encoder()
#: Inbox rows per insert statement (3 bound values each, well under every driver's limit).
_INBOX_CHUNK = 500


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    """The outbox table of one module: events written in the transaction of the change."""
    return sa.Table(
        OUTBOX_TABLE,
        metadata,
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("event_id", sa.String(24), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        # Consumers still to deliver to (JSON list); null means every subscriber.
        sa.Column("pending", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("lease_until", sa.Float(), nullable=False, server_default="0"),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Index("ix_outbox_unpublished", "published_at", "next_attempt_at"),
    )


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    """The inbox of one module: which events each of its consumers has already applied."""
    return sa.Table(
        INBOX_TABLE,
        metadata,
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(24), primary_key=True),
        sa.Column("processed_at", sa.Float(), nullable=False),
    )


class Reader(Protocol):
    """What a read connection offers: ``await conn.execute(statement)`` (an AsyncConnection is one)."""

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[*TupleAny]: ...


class _SyncReader:
    """A plain (synchronous) SQLAlchemy connection behind the ``Reader`` interface."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[*TupleAny]:
        return self._conn.execute(statement, parameters)


class Transaction:
    """One open transaction of a module: run statements on ``conn``; ``emit`` events."""

    def __init__(self, store: ModuleStore, conn: AsyncConnection) -> None:
        self.conn = conn
        self._store = store
        self.emitted = 0

    async def emit(self, *events: Event) -> None:
        """Write events to the outbox, atomically with everything else in this transaction."""
        if not events:
            return
        now = time.time()
        await self.conn.execute(
            self._store.outbox.insert(),
            [
                {
                    "event_id": ev.event_id,
                    "event_type": type(ev).__name__,
                    "payload": _event_encoder.encode(ev),
                    "created_at": now,
                }
                for ev in events
            ],
        )
        self.emitted += len(events)

    async def first_delivery(self, consumer: str, event_id: str) -> bool:
        """Record that ``consumer`` applies ``event_id``; False if it already did (skip it).

        Call it inside the transaction that applies the event's effect, so the effect and
        the record commit together: a redelivered event then changes nothing.
        """
        return event_id in await self.first_deliveries(consumer, [event_id])

    async def first_deliveries(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        """``first_delivery`` for many events in one statement: the ids not applied before.

        One insert that skips the ids already recorded and returns the ones it recorded, so a
        batch of events costs one round trip, not two per event.
        """
        ids = list(dict.fromkeys(event_ids))
        fresh: set[str] = set()
        now = time.time()
        for start in range(0, len(ids), _INBOX_CHUNK):
            rows = [
                {"consumer": consumer, "event_id": event_id, "processed_at": now}
                for event_id in ids[start : start + _INBOX_CHUNK]
            ]
            # One compiled statement whatever the count (several rows: one multi-row insert).
            result = await self.conn.execute(self._store.inbox_insert, rows)
            fresh.update(str(r[0]) for r in result)
        return fresh


class ModuleStore:
    """The database of one module, its outbox and inbox, and a signal for its relay."""

    def __init__(self, module: str, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.module = module
        self.url = url
        self.schema = schema
        self.is_sqlite = url.startswith("sqlite")
        self.metadata = sa.MetaData()
        self.outbox = outbox_table(self.metadata)
        self.inbox = inbox_table(self.metadata)
        dialect: Any = sqlite if self.is_sqlite else postgresql
        #: Records inbox rows, skipping those already there; returns the event ids it recorded.
        self.inbox_insert = (
            dialect.insert(self.inbox).on_conflict_do_nothing().returning(self.inbox.c.event_id)
        )
        self.engine: AsyncEngine = _make_engine(url, schema=schema, echo=echo)
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._sync_reads = _sqlite_read_engine(url) if self.is_sqlite else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A read-write transaction; the relay is woken after it commits with events."""
        # SQLite has one writer at a time; queueing here beats busy-waiting in the driver.
        async with self._write_lock or contextlib.nullcontext(), self.engine.begin() as conn:
            tx = Transaction(self, conn)
            yield tx
        if tx.emitted:
            self.wake_relay()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Reader]:
        """A connection for reads.

        On SQLite the read runs on the calling thread through the plain ``sqlite3`` driver: a read
        of a few indexed rows takes tens of microseconds, less than the hop to aiosqlite's thread
        and back, and WAL mode means a reader never waits for the writer.
        """
        if self._sync_reads is not None:
            with self._sync_reads.connect() as sync_conn:
                yield _SyncReader(sync_conn)
            return
        async with self.engine.connect() as conn:
            yield conn

    async def apply_once(
        self, consumer: str, event: Event, effect: Callable[[Transaction], Awaitable[None]]
    ) -> bool:
        """Apply ``effect`` for ``event`` unless ``consumer`` already did; True when applied."""
        async with self.transaction() as tx:
            if not await tx.first_delivery(consumer, event.event_id):
                return False
            await effect(tx)
            return True

    def wake_relay(self) -> None:
        """Tell this module's relay that the outbox has new rows."""
        self._wake.set()

    async def wait_for_events(self, max_wait_s: float) -> None:
        """Wait until woken or ``max_wait_s`` passes (the relay's fallback poll)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max_wait_s)
        self._wake.clear()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._sync_reads is not None:
            self._sync_reads.dispose()


def sqlite_url(data_dir: Path, module: str) -> str:
    """The embedded default: one SQLite file per module under the data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{(data_dir / f'{module}.db').resolve()}"


def _make_engine(url: str, *, schema: str | None, echo: bool) -> AsyncEngine:
    options: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **options)
        sa_event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if schema:
        options["execution_options"] = {"schema_translate_map": {None: schema}}
    options.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    return create_async_engine(url, **options)


def _sqlite_read_engine(url: str) -> sa.Engine:
    """A synchronous engine on the same SQLite file, for reads on the event loop's thread."""
    engine = sa.create_engine(
        url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1), pool_size=8, max_overflow=32
    )
    sa_event.listen(engine, "connect", _sqlite_read_pragmas)
    return engine


def _sqlite_read_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA busy_timeout=1000")
    cur.close()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
