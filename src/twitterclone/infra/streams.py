"""Events across processes: Redis Streams with one consumer group per consumer.

The outbox relay hands each event to ``StreamPublisher``, which appends it to the stream of
its type (``<prefix>events:<EventType>``); the outbox row is marked published only once Redis
has it. ``StreamConsumer`` reads those streams in consumer groups named after the consumers
(``"timeline.fan_out"``): every group sees every event of its types, and the processes of one
service share a group, so each event is handled by one of them.

Delivery is at-least-once. An entry is acknowledged only after its subscription applied it
(``Subscription.apply``: one transaction per read, one by one when that fails); a failed or
abandoned entry stays pending and is claimed again once idle (``XAUTOCLAIM``); an entry that
failed ``max_deliveries`` times goes to ``<prefix>deadletter:<group>`` for an operator. The
kernel records each applied event in the consuming module's inbox in the same transaction as
its effect, so a redelivery changes nothing.

Redis may come back empty (the split manifest keeps nothing on disk), and a group may vanish
with entries it had not acknowledged. Streams are rebuilt from the outboxes, which keep
published rows for a retention window: an empty Redis lacks each relay's epoch marker
(``epoch_key``), so the relay puts everything it keeps back in line before it appends anything
new (the append checks the marker in the same script); and a consumer that has to create its
group asks, in the same script, for what the outboxes keep of that event type (``replays_key``).
Consumers' inboxes drop what they had applied already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from boundaries._kernel.events import Event
from twitterclone.infra.events import PublisherLost, Replay, Subscription, apply_run, decode_event

log = logging.getLogger("twitterclone.streams")

#: The one pseudo-consumer the relay sees: the stream itself.
STREAM_CONSUMER = "stream"

_encoder = msgspec.json.Encoder()
_T = TypeVar("_T")
_Entry = tuple[bytes | str, dict[Any, Any]]


def stream_key(prefix: str, event_type: str) -> str:
    """The stream that holds every event of ``event_type``."""
    return f"{prefix}events:{event_type}"


def epoch_key(prefix: str, source: str) -> str:
    """Set once the relay of ``source`` has put everything this Redis lacks back in line.

    An empty Redis lacks it: the relay then publishes its retained rows again (``Replay``).
    """
    return f"{prefix}events-epoch:{source}"


def replays_key(prefix: str) -> str:
    """The stream of replay requests: a consumer group was created, it wants what the outboxes keep."""
    return f"{prefix}events-replays"


def replay_cursor_key(prefix: str, source: str) -> str:
    """The last replay request the relay of ``source`` has acted on."""
    return f"{prefix}events-replays-cursor:{source}"


#: Replay requests kept (approximately); far more than consumer groups are ever created at once.
_REPLAYS_MAXLEN = 10_000

#: Appends the events only if this Redis still holds the source's epoch marker (KEYS[1]), so an
#: event never reaches an empty Redis ahead of the older ones the relay must publish again.
#: KEYS[2..]: each event's stream; ARGV[1]: MAXLEN ('' for none); then id, type, payload each.
_XADD_IF_EPOCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for i = 2, #KEYS do
  local a = (i - 2) * 3 + 2
  if ARGV[1] == '' then
    redis.call('XADD', KEYS[i], '*', 'id', ARGV[a], 'type', ARGV[a + 1], 'payload', ARGV[a + 2])
  else
    redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*',
      'id', ARGV[a], 'type', ARGV[a + 1], 'payload', ARGV[a + 2])
  end
end
return #KEYS - 1
"""

#: Creates a consumer group (KEYS[1]: stream, ARGV[1]: group) from the stream's start and, only
#: if it did not exist, asks the relays to publish again what they keep of its event type
#: (ARGV[2]) on the replay stream (KEYS[2]; ARGV[3]: its MAXLEN): 1 created, 0 existed.
_CREATE_GROUP = """
local ok = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
if type(ok) == 'table' and ok.err then
  if string.find(ok.err, 'BUSYGROUP', 1, true) then return 0 end
  return ok
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'group', ARGV[1], 'type', ARGV[2])
return 1
"""


def deadletter_key(prefix: str, group: str) -> str:
    """Where a group's entries go after ``max_deliveries`` failed attempts."""
    return f"{prefix}deadletter:{group}"


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _field(fields: dict[Any, Any], name: str) -> bytes | None:
    value = fields.get(name.encode(), fields.get(name))
    if value is None:
        return None
    return value.encode() if isinstance(value, str) else bytes(value)


def _parse_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class StreamPublisher:
    """A ``Publisher`` for the outbox relay: appends each event to the stream of its type.

    ``maxlen_approx`` caps each stream's length on every append. It is a safety valve against
    unbounded growth and may drop entries a group has not read yet; leave it ``None`` and rely
    on ``trim_streams`` (which never does) unless memory matters more than delivery.
    """

    def __init__(self, redis: Redis, prefix: str, *, maxlen_approx: int | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.maxlen_approx = maxlen_approx
        self._xadd_if_epoch = redis.register_script(_XADD_IF_EPOCH)

    def consumers_of(self, event_type: str) -> list[str]:
        """Every event goes to its stream; consumer groups fan it out from there."""
        return [STREAM_CONSUMER]

    async def publish(self, event: Event, consumers: list[str]) -> list[str]:
        """Append ``event`` to its stream; ``["stream"]`` if Redis did not take it (retry later)."""
        return (await self.publish_many([(event, consumers)]))[0]

    async def replays(self, source: str) -> list[Replay]:
        """What the relay of ``source`` must publish again.

        Everything it keeps, when this Redis lacks its epoch marker (it came back empty, or
        never had this module's events); otherwise the event types of the consumer groups
        created since its last look (``StreamConsumer`` asks when it creates a group: a new
        consumer, or a group that vanished while its consumer was away).
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(epoch_key(self.prefix, source))
            pipe.get(replay_cursor_key(self.prefix, source))
            pipe.xrevrange(replays_key(self.prefix), count=1)
            has_epoch, cursor, newest = await pipe.execute()
        if not has_epoch:
            latest = _text(newest[0][0]) if newest else ""
            return [Replay(None, "Redis lacks this module's events (no epoch marker)", latest)]
        start = f"({_text(cursor)}" if cursor else "-"
        entries: Any = await self.redis.xrange(replays_key(self.prefix), min=start, max="+", count=1000)
        if not entries:
            return []
        types = sorted({_text(_field(fields, "type")) for _, fields in entries} - {""})
        groups = sorted({_text(_field(fields, "group")) for _, fields in entries} - {""})
        last = _text(entries[-1][0])
        return [Replay(frozenset(types), f"consumer groups created: {', '.join(groups)}", last)]

    async def replayed(self, source: str, replays: list[Replay]) -> None:
        """Record that the relay of ``source`` acted on ``replays`` (the marker, the request cursor)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for replay in replays:
                if replay.event_types is None:
                    pipe.set(epoch_key(self.prefix, source), str(time.time()))
                if replay.token:
                    pipe.set(replay_cursor_key(self.prefix, source), replay.token)
            await pipe.execute()

    async def publish_many(
        self, items: Sequence[tuple[Event, list[str]]], *, source: str | None = None
    ) -> list[list[str]]:
        """Append every event to the stream of its type, in order, in one round trip.

        Each event whose XADD Redis refused (or all of them, when Redis is unreachable) gets
        ``["stream"]``: the relay keeps it in the outbox and retries it. With ``source`` (the
        relay's module) the appends happen in one script, and only while Redis holds that
        module's epoch marker; without it, ``PublisherLost`` (nothing was appended).
        """
        failed: list[list[str]] = [[] for _ in items]
        todo = [(i, event) for i, (event, consumers) in enumerate(items) if consumers]
        if not todo:
            return failed
        if source is not None:
            return await self._publish_checked(source, items, todo)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for _, event in todo:
                    event_type = type(event).__name__
                    fields: dict[Any, Any] = {
                        "id": event.event_id,
                        "type": event_type,
                        "payload": _encoder.encode(event),
                    }
                    pipe.xadd(
                        stream_key(self.prefix, event_type),
                        fields,
                        maxlen=self.maxlen_approx,
                        approximate=True,
                    )
                results: list[Any] = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            log.warning(
                "could not append events to their streams; the outbox keeps them",
                extra={"events": len(todo), "error": repr(exc)},
            )
            results = [exc] * len(todo)
        for (i, event), result in zip(todo, results, strict=True):
            if isinstance(result, Exception):
                log.warning(
                    "could not append event to its stream; the outbox keeps it",
                    extra={
                        "event_id": event.event_id,
                        "event_type": type(event).__name__,
                        "error": repr(result),
                    },
                )
                failed[i] = [STREAM_CONSUMER]
        return failed

    async def _publish_checked(
        self, source: str, items: Sequence[tuple[Event, list[str]]], todo: list[tuple[int, Event]]
    ) -> list[list[str]]:
        keys: list[Any] = [epoch_key(self.prefix, source)]
        args: list[Any] = ["" if self.maxlen_approx is None else self.maxlen_approx]
        for _, event in todo:
            event_type = type(event).__name__
            keys.append(stream_key(self.prefix, event_type))
            args += [event.event_id, event_type, _encoder.encode(event)]
        try:
            appended = await self._xadd_if_epoch(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            log.warning(
                "could not append events to their streams; the outbox keeps them",
                extra={"events": len(todo), "error": repr(exc)},
            )
            failed: list[list[str]] = [[] for _ in items]
            for i, _ in todo:
                failed[i] = [STREAM_CONSUMER]
            return failed
        if int(appended) < 0:
            raise PublisherLost(f"Redis lacks the epoch marker of {source}")
        return [[] for _ in items]


@dataclass(frozen=True, slots=True)
class _Group:
    name: str
    #: stream key -> the subscription that handles its entries
    streams: dict[str, Subscription[Any]]


class StreamConsumer:
    """Runs the handlers of ``subscriptions`` on the streams of their event types.

    Each subscription's ``consumer`` name is a consumer group; ``instance`` names this process
    inside every group (unique per process, e.g. ``"<service>-<host>-<pid>"``), so that on
    restart it finds the entries it had taken but not acknowledged. Groups run concurrently:
    a slow group does not hold up another.
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        subscriptions: list[Subscription[Any]],
        *,
        instance: str,
        block_ms: int = 1000,
        batch: int = 100,
        min_idle_ms: int = 30_000,
        max_deliveries: int = 10,
        claim_interval_s: float = 5.0,
        trim_interval_s: float | None = 60.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.instance = instance
        self.block_ms = block_ms
        self.batch = batch
        self.min_idle_ms = min_idle_ms
        self.max_deliveries = max_deliveries
        self.claim_interval_s = claim_interval_s
        self.trim_interval_s = trim_interval_s
        self.stop_timeout_s = stop_timeout_s
        groups: dict[str, dict[str, Subscription[Any]]] = {}
        for sub in subscriptions:
            key = stream_key(prefix, sub.event_type.__name__)
            streams = groups.setdefault(sub.consumer, {})
            if key in streams:
                raise ValueError(f"{sub.consumer} subscribes twice to {sub.event_type.__name__}")
            streams[key] = sub
        self._groups = [_Group(name, streams) for name, streams in groups.items()]
        self._create_group = redis.register_script(_CREATE_GROUP)
        self._event_types = sorted({s.event_type.__name__ for s in subscriptions})
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: last handler error per (group, stream, entry id), for the dead-letter record
        self._errors: dict[tuple[str, str, str], str] = {}

    @property
    def groups(self) -> list[str]:
        """The consumer groups this consumer reads in."""
        return [g.name for g in self._groups]

    async def start(self) -> None:
        """Create the groups (if Redis answers) and start one reading task per group."""
        if self._tasks:
            return
        self._stop.clear()
        for group in self._groups:
            try:
                await self._ensure_group(group)
            except (RedisError, OSError):
                # The group's loop keeps trying; a consumer must not stop its process from starting.
                log.warning("could not create consumer group yet", extra={"consumer": group.name})
        self._tasks = [
            asyncio.create_task(self._run_group(group), name=f"stream-consumer-{group.name}")
            for group in self._groups
        ]
        if self.trim_interval_s is not None and self._event_types:
            self._tasks.append(asyncio.create_task(self._run_trim(self.trim_interval_s), name="stream-trim"))

    async def stop(self) -> None:
        """Stop reading now; a handler already running finishes (and its entry is acknowledged)."""
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=self.stop_timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one group ---------------------------------------------------------------------------

    async def _run_group(self, group: _Group) -> None:
        ready = False
        recovered = False
        failures = 0
        last_claim = time.monotonic()
        while not self._stop.is_set():
            try:
                if not ready:
                    await self._ensure_group(group)
                    ready = True
                if not recovered:
                    await self._recover_own(group)
                    recovered = True
                if time.monotonic() - last_claim >= self.claim_interval_s:
                    last_claim = time.monotonic()
                    await self._claim_idle(group)
                reply = await self._unless_stopped(
                    self._read(group, dict.fromkeys(group.streams, ">"), block_ms=self._block_ms())
                )
                if reply is None:
                    return
                for stream, entries in reply:
                    await self._handle_entries(group, stream, entries)
                failures = 0
            except Exception:
                failures += 1
                log.exception(
                    "stream consumer pass failed; retrying",
                    extra={"consumer": group.name, "instance": self.instance},
                )
                ready = False  # e.g. NOGROUP after the stream was deleted: create it again
                await self._sleep_unless_stopped(min(5.0, 0.1 * 2**failures))

    def _block_ms(self) -> int:
        # Wake up in time for the next claim pass.
        return max(1, min(self.block_ms, int(self.claim_interval_s * 1000)))

    async def _read(
        self, group: _Group, cursors: dict[str, str], *, block_ms: int | None = None
    ) -> list[tuple[str, list[_Entry]]]:
        streams: dict[Any, Any] = dict(cursors)
        reply: Any = await self.redis.xreadgroup(
            group.name, self.instance, streams, count=self.batch, block=block_ms
        )
        return [(_text(stream), list(entries or [])) for stream, entries in reply or []]

    async def _ensure_group(self, group: _Group) -> None:
        """Create the group on each of its streams where it is missing, and ask for a replay there.

        It reads from the stream's start ("0"), and, in the same script, asks the relays to
        publish again what their outboxes keep of that event type: the group is new, or it
        vanished (Redis came back empty, the stream was deleted) with entries it had not
        acknowledged. What it had applied already, its inbox drops.
        """
        for key, sub in group.streams.items():
            created = await self._create_group(
                keys=[key, replays_key(self.prefix)],
                args=[group.name, sub.event_type.__name__, _REPLAYS_MAXLEN],
            )
            if int(created):
                log.warning(
                    "created consumer group; asked the relays to publish their retained events again",
                    extra={"consumer": group.name, "event_type": sub.event_type.__name__},
                )

    async def _recover_own(self, group: _Group) -> None:
        """Handle the entries this instance took before it stopped (or crashed) without acking."""
        cursors = dict.fromkeys(group.streams, "0")
        while cursors and not self._stop.is_set():
            got = dict(await self._read(group, cursors))
            for stream in list(cursors):
                entries = got.get(stream)
                if not entries:  # this instance has nothing (more) pending here
                    del cursors[stream]
                    continue
                cursors[stream] = _text(entries[-1][0])
                await self._handle_redelivered(group, stream, entries)

    async def _claim_idle(self, group: _Group) -> None:
        """Take over entries idle too long: ours that failed, and those of consumers that died."""
        for stream in group.streams:
            cursor: str = "0-0"
            for _ in range(10):  # bounded, so new entries are not starved; the next pass goes on
                if self._stop.is_set():
                    return
                reply: Any = await self.redis.xautoclaim(
                    stream, group.name, self.instance, self.min_idle_ms, start_id=cursor, count=self.batch
                )
                cursor = _text(reply[0])
                if reply[1]:
                    await self._handle_redelivered(group, stream, reply[1])
                if cursor == "0-0":
                    break

    async def _handle_redelivered(self, group: _Group, stream: str, entries: list[_Entry]) -> None:
        """Entries delivered before: dead-letter those that failed too often, handle the rest."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in entries:
                pipe.xpending_range(stream, group.name, entry_id, entry_id, 1)
            infos: list[Any] = await pipe.execute()
        fresh: list[_Entry] = []
        for (entry_id, fields), info in zip(entries, infos, strict=True):
            deliveries = int(info[0]["times_delivered"]) if info else 0
            if fields and deliveries > self.max_deliveries:
                await self._dead_letter(group, stream, _text(entry_id), fields, deliveries)
            else:
                fresh.append((entry_id, fields))
        await self._handle_entries(group, stream, fresh)

    async def _handle_entries(self, group: _Group, stream: str, entries: list[_Entry]) -> None:
        """Apply entries in order and acknowledge the applied ones (one XACK for all of them).

        The read goes to the subscription as one run (``apply_run``: one transaction, one by
        one if that fails). Nothing starts once ``stop()`` was called (the entries stay pending:
        this instance re-reads them on start, or another claims them).
        """
        sub = group.streams[stream]
        done: list[str] = []
        ready: list[tuple[str, Event]] = []
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            if not fields:  # trimmed or deleted while pending: nothing left to handle
                done.append(entry_id)
                continue
            try:
                payload = _field(fields, "payload")
                if payload is None:
                    raise ValueError("stream entry has no payload")
                ready.append((entry_id, decode_event(payload)))
            except Exception as exc:
                self._failed(group, stream, entry_id, _text(_field(fields, "id")), exc)
        try:
            if not ready or self._stop.is_set():
                return
            errors = await apply_run(sub, [event for _, event in ready])
            for (entry_id, _), error in zip(ready, errors, strict=True):
                if error is None:
                    done.append(entry_id)
                else:
                    self._remember_error(group.name, stream, entry_id, error)
        finally:
            if done:
                await self.redis.xack(stream, group.name, *done)
                for entry_id in done:
                    self._errors.pop((group.name, stream, entry_id), None)

    def _failed(self, group: _Group, stream: str, entry_id: str, event_id: str, exc: Exception) -> None:
        self._remember_error(group.name, stream, entry_id, exc)
        log.error(
            "stream consumer failed; will retry",
            exc_info=exc,
            extra={
                "consumer": group.name,
                "instance": self.instance,
                "event_id": event_id,
                "event_type": group.streams[stream].event_type.__name__,
                "entry_id": entry_id,
            },
        )

    def _remember_error(self, group: str, stream: str, entry_id: str, exc: BaseException) -> None:
        if len(self._errors) >= 10_000:
            self._errors.clear()  # only a hint for the dead-letter record; never let it grow unbounded
        self._errors[(group, stream, entry_id)] = repr(exc)

    async def _dead_letter(
        self, group: _Group, stream: str, entry_id: str, fields: dict[Any, Any], deliveries: int
    ) -> None:
        error = self._errors.pop((group.name, stream, entry_id), "failed in another consumer instance")
        record: dict[Any, Any] = {
            "stream": stream,
            "entry_id": entry_id,
            "id": _field(fields, "id") or b"",
            "type": _field(fields, "type") or b"",
            "payload": _field(fields, "payload") or b"",
            "deliveries": deliveries,
            "error": error,
            "failed_at": time.time(),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(deadletter_key(self.prefix, group.name), record)
            pipe.xack(stream, group.name, entry_id)
            await pipe.execute()
        log.error(
            "stream entry failed too often; moved to the dead-letter stream",
            extra={
                "consumer": group.name,
                "instance": self.instance,
                "event_id": _text(_field(fields, "id")),
                "entry_id": entry_id,
                "deliveries": deliveries,
                "error": error,
            },
        )

    # -- trimming ----------------------------------------------------------------------------

    async def _run_trim(self, interval_s: float) -> None:
        while not self._stop.is_set():
            await self._sleep_unless_stopped(interval_s)
            if self._stop.is_set():
                return
            try:
                await trim_streams(self.redis, self.prefix, self._event_types)
            except Exception:
                log.exception("trimming streams failed", extra={"instance": self.instance})

    # -- stopping ----------------------------------------------------------------------------

    async def _unless_stopped(self, awaitable: Awaitable[_T]) -> _T | None:
        """Await ``awaitable`` unless stop() comes first (then cancel it and return None)."""
        work = asyncio.ensure_future(awaitable)
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not work.done():
                work.cancel()
                # Entries the server handed out meanwhile stay pending and are re-read on start.
                with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                    await work
        return work.result() if not work.cancelled() else None

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


async def trim_streams(redis: Redis, prefix: str, event_types: Iterable[str]) -> dict[str, int]:
    """Drop stream entries every group has acknowledged; return how many went, per stream.

    For each stream, the floor is the smallest of every group's last-delivered id and oldest
    pending id; entries below it were delivered to and acknowledged by every group. A stream
    with no group yet is left alone: its first consumer starts from the beginning.
    """
    trimmed: dict[str, int] = {}
    for event_type in event_types:
        key = stream_key(prefix, event_type)
        try:
            groups = await redis.xinfo_groups(key)
        except ResponseError:  # no such stream
            continue
        if not groups:
            continue
        floor: tuple[int, int] | None = None
        for info in groups:
            candidates = [_parse_id(_text(info["last-delivered-id"]))]
            if int(info["pending"]):
                summary = await redis.xpending(key, info["name"])
                if summary["min"] is not None:
                    candidates.append(_parse_id(_text(summary["min"])))
            low = min(candidates)
            floor = low if floor is None else min(floor, low)
        if floor is None or floor == (0, 0):
            continue
        removed = await redis.xtrim(key, minid=f"{floor[0]}-{floor[1]}", approximate=False)
        trimmed[event_type] = int(removed)
    return trimmed


@dataclass(frozen=True, slots=True)
class GroupBacklog:
    """How far one consumer group is behind, over every stream it reads."""

    group: str
    #: entries not yet delivered to the group; None when Redis cannot tell (entries deleted mid-range)
    lag: int | None
    #: entries delivered but not yet acknowledged
    pending: int
    event_types: tuple[str, ...]


async def stream_backlog(redis: Redis, prefix: str) -> dict[str, GroupBacklog]:
    """Lag and pending count of every consumer group on this prefix's event streams."""
    head = stream_key(prefix, "")
    totals: dict[str, GroupBacklog] = {}
    async for raw_key in redis.scan_iter(match=f"{_escape_glob(head)}*", _type="stream"):
        key = _text(raw_key)
        event_type = key[len(head) :]
        for info in await redis.xinfo_groups(key):
            name = _text(info["name"])
            raw_lag = info.get("lag")
            lag = None if raw_lag is None else int(raw_lag)
            before = totals.get(name)
            if before is not None:
                lag = None if lag is None or before.lag is None else lag + before.lag
            totals[name] = GroupBacklog(
                group=name,
                lag=lag,
                pending=int(info["pending"]) + (before.pending if before else 0),
                event_types=tuple(sorted((*(before.event_types if before else ()), event_type))),
            )
    return totals


def _escape_glob(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
