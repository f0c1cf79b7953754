"""A module's own database, with its transactional outbox and its consumer inbox.

Each module owns one ``ModuleStore``: an engine on its own SQLite file (embedded default)
or its own PostgreSQL schema. Writes that others care about go through
``store.transaction()``, whose ``emit`` writes the event to the outbox table in the same
transaction as the change; the relay is woken once the transaction commits. The inbox table
records which events each of the module's consumers has applied: the event kernel
(``infra/events.py``, ``Subscription.apply``) writes it in the consumer's transaction, and
``purge_inbox`` deletes rows older than the retention window.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy import CursorResult, Executable
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util.typing import TupleAny

from boundaries._kernel.events import Event
from twitterclone.infra.files import private_dir, private_file

#: Columns shared by every module's outbox. Migrations create the same shape.
OUTBOX_TABLE = "outbox"
INBOX_TABLE = "inbox"
#: The index the inbox purge finds expired rows by (created by each consuming module's migration).
INBOX_AGE_INDEX = "ix_inbox_processed_at"

log = logging.getLogger("twitterclone.store")

_event_encoder = msgspec.json.Encoder()
#: Inbox rows deleted per transaction by ``purge_inbox``.
_PURGE_CHUNK = 5000


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
        sa.Index(INBOX_AGE_INDEX, "processed_at"),
    )


class Reader(Protocol):
    """What a read connection offers: ``await conn.execute(statement)`` (an AsyncConnection is one)."""

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[*TupleAny]: ...


class _SyncReader:
    """A plain (synchronous) SQLAlchemy connection behind the ``Reader`` interface."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    @property
    def dbapi(self) -> Any:
        """The driver's own connection (``sqlite3.Connection``) under this one."""
        return self._conn.connection.dbapi_connection

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[*TupleAny]:
        try:
            return self._conn.execute(statement, parameters)
        except BaseException:
            self._conn.rollback()  # leave the connection usable for the next read
            raise


class _SyncWriter:
    """A plain SQLAlchemy connection on SQLite behind ``AsyncConnection.execute``, for writes.

    Statements run on the calling thread (see ``ModuleStore.transaction``); the results are
    the same ``CursorResult`` the async connection returns.
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    @property
    def dbapi(self) -> Any:
        """The driver's own connection (``sqlite3.Connection``) under this one."""
        return self._conn.connection.dbapi_connection

    @property
    def dialect(self) -> sa.Dialect:
        return self._conn.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[*TupleAny]:
        return self._conn.execute(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[*TupleAny]:
        return self._conn.exec_driver_sql(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self._conn.scalar(statement, parameters)


_Wrapped = TypeVar("_Wrapped", "_SyncReader", "_SyncWriter")


#: How often the checkpointer of a process's loop writer copies the WAL into the database file.
CHECKPOINT_INTERVAL_S = 0.5


class _Checkpointer:
    """Copies a SQLite file's WAL into the database, on a thread of its own, every ``interval_s``.

    The event loop's writer commits with ``wal_autocheckpoint=0``: with the default (1,000 pages),
    the commit that crosses the mark runs the checkpoint itself (copying pages, syncing the
    database file) and the next commit syncs the restarted WAL's header, on the loop's thread;
    in a posts-only profile that was ~60 % of the time in ``COMMIT``. Here a ``PASSIVE``
    checkpoint (it waits for no reader or writer) runs on a plain connection of this thread,
    and ``sqlite3`` releases the GIL while it works. Every other connection keeps SQLite's
    automatic checkpoints, so the WAL stays bounded even where this thread does not run.
    """

    def __init__(self, database: str, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        self.database = database
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqlite-checkpoint:{database}", daemon=True)
        self._thread.start()

    def checkpoint_once(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """One passive checkpoint: (busy, frames in the WAL, frames checkpointed)."""
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def _run(self) -> None:
        conn = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self.interval_s):
                try:
                    self.checkpoint_once(conn)
                except sqlite3.Error:
                    log.warning("WAL checkpoint failed; will retry", exc_info=True)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


#: A wait for a writer's turn: its open file, the loop that waits, the future it waits on.
_Wait = tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]


class _WriterTurns:
    """Whose turn it is to write one SQLite file, among the processes of this machine.

    SQLite lets one writer in at a time and makes the others poll: a process that finds the
    lock taken sleeps 1, 2, 5, 10 … 100 ms between tries, while the holder, back on its event
    loop, takes the lock again as soon as it wants it. Two workers writing hard then starve each
    other: two processes writing 1 ms transactions through this store made 549-555 of them a
    second with waits of 8.6 ms at p99, against 770-792 and 0.7-0.8 ms taking turns
    (``scripts/measure_sqlite_writers.py``); on bare ``sqlite3`` single waits reached 0.7-2.5 s.

    So the loop's writers take a turn first: an exclusive ``flock`` on a file beside the
    database (``<file>-writer``). Taking it when it is free costs two system calls; a waiter
    blocks in the kernel on a thread, and the kernel wakes it when the holder lets go, so turns
    pass in about the time a thread takes to wake. SQLite's own lock stays the rule that keeps
    writes apart: a writer that takes no turn (the migration tool, a ``sqlite3`` shell) is still
    waited for, by polling (``_begin``); a turn only orders the cooperating writers.
    """

    def __init__(self, database: str) -> None:
        self.path = f"{database}-writer"
        #: This process's own open file (a forked child opens another: a lock belongs to one).
        self._fd: int | None = None
        self._pid = 0
        #: Waits for this process's thread (``_waiting``): an open file, the loop, its future.
        self._waits: queue.SimpleQueue[_Wait | None] | None = None

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def take_now(self) -> bool:
        """Take the turn if nobody has it (no wait)."""
        if self._pid != os.getpid():  # first use in this process: its own file, its own thread
            self._fd, self._pid, self._waits = self._open(), os.getpid(), None
        assert self._fd is not None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def give_back(self) -> None:
        """Let go of a turn ``take_now`` took."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    async def wait(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for the turn; the open file that holds it (closing it lets go).

        The wait blocks a thread of this store's (one, a daemon: a wait never holds up the
        process's exit), which nothing can stop; so a wait given up (cancelled, or out of time)
        has its file closed once the turn comes, and the turn passes on at once.
        """
        if self._waits is None:
            self._waits = queue.SimpleQueue()
            threading.Thread(
                target=_waiting, args=(self._waits,), name=f"sqlite-turn:{self.path}", daemon=True
            ).start()
        fd = self._open()
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._waits.put((fd, loop, turn))
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout_s)
        except BaseException as exc:
            turn.add_done_callback(lambda _: os.close(fd))
            if isinstance(exc, TimeoutError):
                raise sqlite3.OperationalError("database is locked (no turn to write)") from None
            raise
        return fd

    def close(self) -> None:
        """Close this process's file and end its waiting thread (after any wait it still blocks in)."""
        if self._pid == os.getpid():
            if self._fd is not None:
                os.close(self._fd)
            if self._waits is not None:
                self._waits.put(None)
        self._fd, self._pid, self._waits = None, 0, None


def _waiting(waits: queue.SimpleQueue[_Wait | None]) -> None:
    """A ``_WriterTurns`` thread: block for each turn asked for, then tell the asking loop; end
    at ``None`` (the store was disposed of)."""
    while (wait := waits.get()) is not None:
        fd, loop, turn = wait
        failed: OSError | None = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            failed = exc
        try:
            loop.call_soon_threadsafe(_settle, turn, failed)
        except RuntimeError:  # the loop is closed: nobody waits for this turn any more
            os.close(fd)


def _settle(turn: asyncio.Future[None], failed: OSError | None) -> None:
    if failed is None:
        turn.set_result(None)
    else:
        turn.set_exception(failed)


class _LoopConnection(Generic[_Wrapped]):
    """One connection of ``engine`` kept open for the thread (and process) that asked first.

    Checking a connection out of a pool and back costs more than a statement of a few rows, so
    the event loop's thread keeps one; another thread, or a forked child, gets ``None`` (and
    goes through a pool instead).
    """

    def __init__(
        self, engine: sa.Engine, wrap: Callable[[sa.Connection], _Wrapped], *, checkpoints: bool = False
    ) -> None:
        self.engine = engine
        self._wrap: Callable[[sa.Connection], _Wrapped] = wrap
        #: The owner (process id, thread id) and its connection.
        self._owner: tuple[int, int] | None = None
        self._held: _Wrapped | None = None
        #: Whether the kept connection leaves checkpoints to a thread (``_Checkpointer``).
        self._checkpoints = checkpoints
        self._checkpointer: _Checkpointer | None = None

    def get(self) -> _Wrapped | None:
        here = (os.getpid(), threading.get_ident())
        if self._owner is not None:
            return self._held if self._owner == here else None
        conn = self.engine.connect()
        if self._checkpoints and self.engine.url.database not in (None, "", ":memory:"):
            conn.connection.dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[union-attr]
            self._checkpointer = _Checkpointer(str(self.engine.url.database))
        self._held = self._wrap(conn)
        self._owner = here
        return self._held

    def dispose(self) -> None:
        mine = self._owner is not None and self._owner[0] == os.getpid()
        if self._checkpointer is not None and mine:
            self._checkpointer.stop()
        if self._held is not None and mine:
            self._held._conn.close()
        self._owner = self._held = None
        self._checkpointer = None
        self.engine.dispose()


class HotRead:
    """A read statement on a hot path, built once, that returns plain tuples.

    On SQLite it runs through the ``sqlite3`` driver directly with SQL compiled once (per length
    of its IN lists): no execution context, no result processing, which is most of the cost of a
    small read. So its columns must be plain values (integers, text, or nulls); a date comes back
    as the driver gives it. On PostgreSQL it runs like any statement.
    """

    _POSTCOMPILE = "__[POSTCOMPILE_"

    def __init__(self, statement: Executable, *, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        compiled = statement.compile(  # type: ignore[attr-defined]
            dialect=sqlite.dialect(),
            column_keys=list(column_keys) if column_keys is not None else None,
        )
        self._sql = compiled.string
        self._order: list[str] = list(compiled.positiontup or [])
        self._defaults: dict[str, Any] = dict(compiled.params)
        self._expanding = {name for name in self._order if f"{self._POSTCOMPILE}{name}]" in self._sql}
        self._by_lengths: dict[tuple[int, ...], str] = {}

    def sqlite_args(self, params: dict[str, Any]) -> tuple[str, list[Any]]:
        """The SQL text and positional arguments of one run on SQLite."""
        values = {**self._defaults, **params}
        args: list[Any] = []
        lengths: list[int] = []
        for name in self._order:
            value = values[name]
            if name in self._expanding:
                lengths.append(len(value))
                args.extend(value)
            else:
                args.append(value)
        key = tuple(lengths)
        sql = self._by_lengths.get(key)
        if sql is None:
            sql = self._sql
            for name, length in zip([n for n in self._order if n in self._expanding], lengths, strict=True):
                # An empty list matches nothing, as SQLAlchemy renders it.
                marks = ", ".join("?" * length) if length else "SELECT 1 WHERE 1 = 0"
                sql = sql.replace(f"{self._POSTCOMPILE}{name}]", marks, 1)
            if len(self._by_lengths) < 256:
                self._by_lengths[key] = sql
        return sql, args


class HotWrite:
    """A write statement on a hot path (an event's outbox or inbox row, a post's rows), built once.

    ``Transaction.write`` (one row) and ``Transaction.write_rows`` (many) run it. On the event
    loop's SQLite writer it goes through the ``sqlite3`` driver directly with SQL compiled once
    for the parameter names ``keys`` (and, per length, its IN lists or its rows), the columns'
    bind processing applied by hand (dates, JSON): no execution context and no result object,
    which cost several times what SQLite takes to write a row. Anywhere else (PostgreSQL, a
    connection of another thread) ``statement`` runs as any statement does. Rows it returns
    (``RETURNING``) come back as plain tuples.
    """

    #: ``VALUES`` and one row of placeholders in an INSERT compiled for SQLite.
    _ROW = re.compile(r" VALUES (\(\?(?:, \?)*\))")

    def __init__(self, statement: Executable, keys: Sequence[str]) -> None:
        self.statement = statement
        self.keys = tuple(keys)
        #: Whether the statement returns rows (``RETURNING``).
        self.returns = bool(getattr(statement, "_returning", ()))
        self._sqlite: HotRead | None = None  # compiled on first use: PostgreSQL stores never need it
        #: The bind processors of the parameters whose type converts values (dates, JSON).
        self._processors: dict[str, Callable[[Any], Any]] = {}
        #: Without IN lists: per placeholder, (parameter name or None, the literal's value, processor).
        self._plan: list[tuple[str | None, Any, Callable[[Any], Any] | None]] | None = None
        #: The SQL for n rows (an INSERT of one row of placeholders; else None).
        self._rows_sql: dict[int, str] = {}

    def _compiled(self) -> HotRead:
        if self._sqlite is None:
            dialect = sqlite.dialect()
            hot = HotRead(self.statement, column_keys=self.keys)
            compiled = self.statement.compile(dialect=dialect, column_keys=list(self.keys))  # type: ignore[attr-defined]
            # A parameter with no value of its own (not a literal of the statement) must come from
            # the caller; a column default SQLAlchemy fills in at execution would be NULL here.
            filled = {c.key for c in [*compiled.insert_prefetch, *compiled.update_prefetch]}
            missing = sorted(
                {
                    name
                    for name in hot._order
                    if name not in self.keys and (compiled.binds[name].required or name in filled)
                }
            )
            if missing:
                raise ValueError(f"HotWrite: {missing} are not among its keys")
            for name in set(hot._order):
                bind = compiled.binds[name]
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    self._processors[name] = process
            if not hot._expanding:
                self._plan = []
                for name in hot._order:
                    process = self._processors.get(name)
                    if name in self.keys:
                        self._plan.append((name, None, process))
                    else:  # a literal of the statement
                        value = hot._defaults[name]
                        self._plan.append((None, process(value) if process else value, None))
            self._sqlite = hot
        return self._sqlite

    def _args(self, params: dict[str, Any]) -> list[Any]:
        assert self._plan is not None
        return [
            const if name is None else (process(params[name]) if process else params[name])
            for name, const, process in self._plan
        ]

    def sqlite_args(self, params: dict[str, Any]) -> tuple[str, list[Any]]:
        """The SQL text and positional arguments of one run on SQLite."""
        hot = self._compiled()
        if self._plan is not None:
            return hot._sql, self._args(params)
        if self._processors:
            params = {k: (self._processors[k](v) if k in self._processors else v) for k, v in params.items()}
        return hot.sqlite_args(params)

    def sqlite_rows_per_statement(self, bound: int) -> int:
        """How many rows one INSERT of many rows may carry under ``bound`` values a statement
        (the connection's SQLITE_LIMIT_VARIABLE_NUMBER: 32,766 by default, less on some builds)."""
        self._compiled()
        return max(1, bound // max(1, len(self._plan or ())))

    def sqlite_rows(self, rows: Sequence[dict[str, Any]]) -> tuple[str, list[Any]] | None:
        """The SQL text and positional arguments of one statement for all ``rows`` on SQLite (an
        INSERT of many rows of values), or None when the statement is not such an INSERT."""
        hot = self._compiled()
        match = self._ROW.search(hot._sql) if self._plan is not None else None
        if match is None:
            return None
        sql = self._rows_sql.get(len(rows))
        if sql is None:
            values = ", ".join([match.group(1)] * len(rows))
            sql = f"{hot._sql[: match.start(1)]}{values}{hot._sql[match.end(1) :]}"
            if len(self._rows_sql) < 256:
                self._rows_sql[len(rows)] = sql
        args: list[Any] = []
        for params in rows:
            args += self._args(params)
        return sql, args


class HotResult:
    """What ``Transaction.write`` gives back: the rows returned (plain tuples) and the rows changed."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount


def _run_on_sqlite(dbapi: sqlite3.Connection, sql: str, args: list[Any], *, returns: bool) -> HotResult:
    """One ``HotWrite`` statement straight through the ``sqlite3`` driver."""
    cursor = dbapi.execute(sql, args)
    try:
        return HotResult(cursor.fetchall() if returns else [], cursor.rowcount)
    finally:
        cursor.close()


async def _run_through_sqlalchemy(conn: Any, statement: HotWrite, params: Any) -> HotResult:
    """A ``HotWrite`` as any statement runs (PostgreSQL, another thread's connection)."""
    result = await conn.execute(statement.statement, params)
    return HotResult([tuple(r) for r in result] if statement.returns else [], result.rowcount)


class Transaction:
    """One open transaction of a module: run statements on ``conn``; ``emit`` events."""

    def __init__(self, store: ModuleStore, conn: AsyncConnection) -> None:
        self.conn = conn
        self._store = store
        self.emitted = 0
        self._after_commit: list[Callable[[], Awaitable[None]]] = []
        self._savepoints = 0

    async def emit(self, *events: Event) -> None:
        """Write events to the outbox, atomically with everything else in this transaction."""
        if not events:
            return
        now = time.time()
        rows = [
            {
                "event_id": ev.event_id,
                "event_type": type(ev).__name__,
                "payload": _event_encoder.encode(ev),
                "created_at": now,
            }
            for ev in events
        ]
        if len(rows) == 1:
            await self.write(self._store.outbox_insert, rows[0])
        else:
            await self.write_rows(self._store.outbox_insert, rows)
        self.emitted += len(events)

    async def fetch(self, query: HotRead, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run a ``HotRead`` in this transaction: every row as a plain tuple (as
        ``ModuleStore.fetch`` does outside one; on the loop's SQLite writer, straight through
        the driver)."""
        conn = self.conn
        if isinstance(conn, _SyncWriter):  # runs_hot
            cursor = conn.dbapi.execute(*query.sqlite_args(params))
            try:
                rows: list[tuple[Any, ...]] = cursor.fetchall()
            finally:
                cursor.close()
            return rows
        return [tuple(r) for r in await conn.execute(query.statement, params)]

    async def write_rows(self, statement: HotWrite, rows: Sequence[dict[str, Any]]) -> HotResult:
        """Run a ``HotWrite`` INSERT for many rows of parameters: on the loop's SQLite writer one
        statement with a row of values each (as many statements as SQLite's bound on a
        statement's values asks for), elsewhere as an executemany. Rows it returns come in no
        particular order."""
        if not rows:
            return HotResult([], 0)
        conn = self.conn
        if isinstance(conn, _SyncWriter):  # runs_hot
            returned: list[tuple[Any, ...]] = []
            changed = 0
            bound = conn.dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            per_statement = statement.sqlite_rows_per_statement(bound)
            for start in range(0, len(rows), per_statement):
                many = statement.sqlite_rows(rows[start : start + per_statement])
                if many is None:
                    raise ValueError("write_rows: an INSERT of one row of values, written for many")
                part = _run_on_sqlite(conn.dbapi, *many, returns=statement.returns)
                returned += part.rows
                changed += part.rowcount
            return HotResult(returned, changed)
        return await _run_through_sqlalchemy(conn, statement, list(rows))

    async def write(self, statement: HotWrite, params: dict[str, Any]) -> HotResult:
        """Run a ``HotWrite`` with one set of parameters (see there for how)."""
        conn = self.conn
        if isinstance(conn, _SyncWriter):  # runs_hot
            return _run_on_sqlite(conn.dbapi, *statement.sqlite_args(params), returns=statement.returns)
        return await _run_through_sqlalchemy(conn, statement, params)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of this transaction that can fail alone: when the block raises, its statements
        (and its events and ``after_commit`` callbacks) are undone, the rest of the transaction
        stays, and the error goes on to the caller."""
        self._savepoints += 1
        name = f"tc_part_{self._savepoints}"
        emitted, callbacks = self.emitted, len(self._after_commit)
        await self._driver_sql(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self._driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
            await self._driver_sql(f"RELEASE SAVEPOINT {name}")
            self.emitted = emitted
            del self._after_commit[callbacks:]
            raise
        await self._driver_sql(f"RELEASE SAVEPOINT {name}")

    async def _driver_sql(self, sql: str) -> None:
        """A statement without parameters or rows: straight to ``sqlite3`` on the loop's writer."""
        if isinstance(self.conn, _SyncWriter):
            self.conn.dbapi.execute(sql)
        else:
            await self.conn.exec_driver_sql(sql)

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` once this transaction has committed (not at all if it rolls back).

        For effects outside the database that must not be seen before the change is (waking
        waiters, removing files). An error in a callback reaches the caller of
        ``transaction()``; the transaction stays committed.
        """
        self._after_commit.append(callback)


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
        #: Writes an outbox row (``Transaction.emit``): built once, as every event goes through it.
        self.outbox_insert = HotWrite(
            self.outbox.insert(), ("event_id", "event_type", "payload", "created_at")
        )
        #: Records inbox rows, skipping those already there; returns the event ids it recorded
        #: (the event kernel, ``infra/events.py``, is its only user; ``Transaction.write_rows``).
        self.inbox_insert = HotWrite(
            dialect.insert(self.inbox).on_conflict_do_nothing().returning(self.inbox.c.event_id),
            ("consumer", "event_id", "processed_at"),
        )
        #: Which of some event ids (``ids``) a consumer (``consumer``) has recorded (the kernel's).
        self.inbox_seen = HotRead(
            sa.select(self.inbox.c.event_id).where(
                self.inbox.c.consumer == sa.bindparam("consumer"),
                self.inbox.c.event_id.in_(sa.bindparam("ids", expanding=True)),
            )
        )
        self.engine: AsyncEngine = _make_engine(url, schema=schema, echo=echo)
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._sync_reads = _sqlite_read_engine(url) if self.is_sqlite else None
        self._sync_writes = _sqlite_write_engine(url) if self.is_sqlite else None
        #: The read and the write connection of the event loop's thread (SQLite only).
        self._loop_reader = (
            _LoopConnection(self._sync_reads, _SyncReader) if self._sync_reads is not None else None
        )
        #: Turns among this machine's processes for the loop's writer (a SQLite file only).
        database = self._sync_writes.url.database if self._sync_writes is not None else None
        self._turns = _WriterTurns(database) if database and database != ":memory:" else None
        self._loop_writer = (
            _LoopConnection(self._sync_writes, _SyncWriter, checkpoints=True)
            if self._sync_writes is not None
            else None
        )

    def engines(self) -> list[sa.Engine]:
        """Every engine statements on this store run through (for statement listeners)."""
        engines = [self.engine.sync_engine]
        engines += [e for e in (self._sync_reads, self._sync_writes) if e is not None]
        return engines

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A read-write transaction; the relay is woken after it commits with events.

        On SQLite the statements run on the event loop's thread through the plain ``sqlite3``
        driver, in a ``BEGIN IMMEDIATE`` transaction: in WAL mode with ``synchronous=NORMAL`` a
        commit does not wait for the disk, so a write of a few rows takes tens of microseconds,
        a fraction of the hop to aiosqlite's thread and back for every statement (a post's
        transaction cost ~1.3 ms of CPU that way, ~0.2 ms this way). Processes take turns to
        write (``_WriterTurns``): only when another process has the turn does the wait for it go
        to a thread (the loop keeps serving); once taken, nothing in the transaction waits for
        another process. A wait given up (a deadline, a cancelled task) holds nothing after it.
        """
        # SQLite has one writer at a time; queueing here beats busy-waiting in the driver.
        async with self._write_lock or contextlib.nullcontext():
            writer = self._loop_writer.get() if self._loop_writer is not None else None
            if writer is not None:
                async with self._sqlite_transaction(writer) as tx:
                    yield tx
            else:
                async with self.engine.begin() as conn:
                    tx = Transaction(self, conn)
                    yield tx
        if tx.emitted:
            self.wake_relay()
        for callback in tx._after_commit:
            await callback()

    @asynccontextmanager
    async def _sqlite_transaction(self, writer: _SyncWriter) -> AsyncIterator[Transaction]:
        turns = self._turns
        # One budget for the whole wait: the turn, then SQLite's lock (a writer taking no turn).
        deadline = time.monotonic() + _BUSY_WAIT_MS / 1000
        waited: int | None = None  # the open file holding a turn waited for (``_WriterTurns.wait``)
        if turns is not None and not turns.take_now():
            waited = await turns.wait(deadline - time.monotonic())
        try:
            dbapi = writer.dbapi
            await _begin(dbapi, deadline)
            conn = writer._conn
            # The async connection's interface (``execute``) over the plain one: modules see no difference.
            tx = Transaction(self, cast(AsyncConnection, writer))
            try:
                yield tx
            except BaseException:
                conn.rollback()
                if dbapi.in_transaction:  # nothing ran through SQLAlchemy: it did not know to roll back
                    dbapi.execute("ROLLBACK")
                raise
            if conn.in_transaction():
                conn.commit()
            if dbapi.in_transaction:
                dbapi.execute("COMMIT")
        finally:
            if waited is not None:
                os.close(waited)
            elif turns is not None:
                turns.give_back()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Reader]:
        """A connection for reads.

        On SQLite the read runs on the calling thread through the plain ``sqlite3`` driver: a read
        of a few indexed rows takes tens of microseconds, less than the hop to aiosqlite's thread
        and back, and WAL mode means a reader never waits for the writer.
        """
        if self._sync_reads is not None:
            shared = self._loop_reader.get() if self._loop_reader is not None else None
            if shared is not None:
                yield shared
                return
            with self._sync_reads.connect() as sync_conn:
                yield _SyncReader(sync_conn)
            return
        async with self.engine.connect() as conn:
            yield conn

    async def fetch(self, query: HotRead, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run a ``HotRead``: every row as a plain tuple."""
        shared = self._loop_reader.get() if self._loop_reader is not None else None
        if shared is not None:
            sql, args = query.sqlite_args(params)
            cursor = shared.dbapi.execute(sql, args)
            try:
                rows: list[tuple[Any, ...]] = cursor.fetchall()
            finally:
                cursor.close()
            return rows
        async with self.read() as conn:
            return [tuple(r) for r in await conn.execute(query.statement, params)]

    async def purge_inbox(self, older_than: float, *, chunk: int = _PURGE_CHUNK) -> int:
        """Delete inbox rows recorded before ``older_than`` (a Unix time); return how many went.

        In chunks of ``chunk`` rows, one short transaction each, so SQLite's single writer is
        never held for long however many rows have piled up.
        """
        t = self.inbox
        removed = 0
        while True:
            oldest = sa.select(t.c.consumer, t.c.event_id).where(t.c.processed_at < older_than).limit(chunk)
            async with self.transaction() as tx:
                result = await tx.conn.execute(
                    sa.delete(t).where(sa.tuple_(t.c.consumer, t.c.event_id).in_(oldest))
                )
            gone = int(result.rowcount or 0)
            removed += gone
            if gone < chunk:
                return removed

    def wake_relay(self) -> None:
        """Tell this module's relay that the outbox has new rows."""
        self._wake.set()

    @property
    def woken(self) -> bool:
        """Whether the relay was woken since its last ``take_wake`` (the outbox has new rows)."""
        return self._wake.is_set()

    def take_wake(self) -> None:
        """Forget past wake-ups: the relay calls it just before it claims rows, so a commit that
        lands while it works wakes it again (clearing after the wait instead would lose a commit
        made between the wake-up and the clearing, and leave its event for the fallback poll)."""
        self._wake.clear()

    async def wait_for_events(self, max_wait_s: float) -> None:
        """Wait until woken since the last ``take_wake``, or ``max_wait_s`` (the fallback poll)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max_wait_s)

    async def dispose(self) -> None:
        await self.engine.dispose()
        for kept in (self._loop_reader, self._loop_writer):
            if kept is not None:
                kept.dispose()
        if self._turns is not None:
            self._turns.close()


def sqlite_url(data_dir: Path, module: str) -> str:
    """The embedded default: one SQLite file per module under the data directory (private)."""
    database = private_file(private_dir(data_dir) / f"{module}.db")  # -wal/-shm take its mode
    return f"sqlite+aiosqlite:///{database.resolve()}"


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


def _sqlite_write_engine(url: str) -> sa.Engine:
    """A synchronous engine on the same SQLite file, for transactions on the event loop's thread.

    The driver's own transaction handling is off (``isolation_level=None``): ``transaction``
    opens each one with ``BEGIN IMMEDIATE`` itself, so SQLite's write lock is taken first, and
    a waiting writer waits at the start, never half-way through its statements.
    """
    engine = sa.create_engine(
        url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1),
        pool_size=2,
        max_overflow=4,
        connect_args={"check_same_thread": False},  # a busy wait may run on a thread
    )
    sa_event.listen(engine, "connect", _sqlite_write_pragmas)
    return engine


def _sqlite_write_pragmas(dbapi_conn: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_conn, record)
    dbapi_conn.isolation_level = None
    dbapi_conn.execute("PRAGMA busy_timeout=0")


#: How long a writer waits for another process's write lock, as the async engine does.
_BUSY_WAIT_MS = 5000
#: Seconds between tries of ``_begin`` while a writer that takes no turn holds the lock: the first,
#: doubled up to the last.
_BEGIN_RETRY_S = (0.0005, 0.01)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


async def _begin(dbapi: sqlite3.Connection, deadline: float) -> None:
    """``BEGIN IMMEDIATE`` on the loop's writer (``busy_timeout`` 0), tried again after short
    sleeps until ``deadline`` (``time.monotonic``) while another process holds SQLite's write lock.

    With turns taken (``_WriterTurns``) the lock is free by the time this runs, except when a
    writer that takes none holds it. The sleeps are the loop's, so a wait given up (a deadline)
    leaves nothing behind, and the loop keeps serving meanwhile.
    """
    delay, longest = _BEGIN_RETRY_S
    while True:
        try:
            dbapi.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, longest)


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
