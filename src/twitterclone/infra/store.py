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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from boundaries._kernel.events import Event

#: Columns shared by every module's outbox. Migrations create the same shape.
OUTBOX_TABLE = "outbox"
INBOX_TABLE = "inbox"

_event_encoder = msgspec.json.Encoder()


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
        table = self._store.inbox
        exists = await self.conn.execute(
            sa.select(sa.literal(1)).where(table.c.consumer == consumer, table.c.event_id == event_id)
        )
        if exists.first() is not None:
            return False
        await self.conn.execute(
            table.insert().values(consumer=consumer, event_id=event_id, processed_at=time.time())
        )
        return True


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
        self.engine: AsyncEngine = _make_engine(url, schema=schema, echo=echo)
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

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
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads."""
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


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
