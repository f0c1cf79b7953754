"""The resilient HTTP transport for remote port calls (what Finagle does for Twitter).

For each call: find the instances of the target service (registry, cached and refreshed in the
background), pick one by power of two choices among those whose circuit breaker admits calls,
send ``POST /_port/<module>/<method>`` with the service token, request id, trace context and the
deadline, and retry a failed attempt on another instance when that is safe and the retry budget
allows. Anything that is not an answer from the service becomes ``Unavailable`` (503).

When a retry is safe:
- an idempotent method: after a transport error, a timeout, or 502/503/504;
- any method, idempotent or not, when the request provably never left this process (the
  connection could not be established), as Finagle does for "requeueable" failures; a
  non-idempotent call that may have reached a server is never sent twice;
- never after a 4xx or any other answer, never past the deadline, never beyond the budget;
- never to an instance this call already tried (a hung or failing instance would do it again);
- never after a 503 the instance relayed from its own dependency (``remote/blame.py``): every
  instance would relay it, and it does not count against the instance's breaker either.

An idempotent call that has no answer after ``hedge_after_s`` gets a backup attempt on another
instance (a hedged request, Dean & Barroso's "The Tail at Scale"; Finagle's backup requests),
paid from a budget of its own (10 % of calls), so a slow spell cannot spend the retries. The
first answer wins, and an attempt outrun by a backup that started later counts as a failure of
its instance, so a hung (SIGSTOPped) instance costs callers a hedge delay rather than a
deadline, and is ejected after a few calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
import httpx
import msgspec

from boundaries._kernel.errors import Unavailable
from twitterclone.logs import request_id_var
from twitterclone.registry.base import Instance, Registry, RegistryStateUnknown
from twitterclone.remote import wire
from twitterclone.remote.balancer import Endpoint, P2CBalancer
from twitterclone.remote.blame import DOWNSTREAM, FAILURE_HEADER
from twitterclone.remote.breaker import BreakerState, CircuitBreaker
from twitterclone.remote.budget import RetryBudget
from twitterclone.remote.deadline import DEADLINE_HEADER, current_deadline_ms, now_ms, remaining_s
from twitterclone.remote.tracing import TRACEPARENT_HEADER, child_traceparent, traceparent_var

log = logging.getLogger("twitterclone.remote")

#: Statuses that mean "this instance could not serve it now": worth another instance for idempotent calls.
RETRYABLE_STATUSES = frozenset({502, 503, 504})

#: Backup attempts may add at most this share of calls (Finagle's backup requests allow 1 %; a
#: hung instance among two needs more to hide it until its breaker opens).
HEDGE_BUDGET_RATIO = 0.1

#: Failures raised before the request was written to any socket: safe to retry for every method.
#: (aiohttp's connect timeout is a ServerTimeoutError too: this tuple is checked first.)
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


class EndpointStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One instance in the status table."""

    service: str
    instance_id: str
    address: str
    state: str
    in_flight: int
    consecutive_failures: int
    recent_failures: int
    successes: int
    failures: int


class ServiceStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One downstream service in the status table."""

    service: str
    instances: int
    available: int
    in_flight: int
    rejected: int
    retries: int
    retries_refused: int
    budget_tokens: float
    resolve_error: str | None
    #: first attempts (each deposits into the retry budget) and the budget's size
    calls: int = 0
    budget_cap: float = 0.0


@dataclass
class _Pool:
    """Everything the transport keeps about one downstream service."""

    service: str
    budget: RetryBudget
    #: Backup attempts have a budget of their own, so a slow spell cannot spend the retries.
    hedges: RetryBudget = field(default_factory=lambda: RetryBudget(HEDGE_BUDGET_RATIO, cap=5.0))
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    ordered: list[Endpoint] = field(default_factory=list)
    in_flight: int = 0
    rejected: int = 0
    resolved: asyncio.Event = field(default_factory=asyncio.Event)
    resolve_error: str | None = None
    refresher: asyncio.Task[None] | None = None


@dataclass
class _Outcome:
    status: int | None = None  # None: no answer (transport error or timeout)
    content: bytes = b""
    error: str = ""
    sent: bool = True  # False only when the request provably never left this process
    downstream: bool = False  # the instance answered with a dependency's failure, not its own


class HttpTransport:
    """``Transport`` over HTTP to registry-resolved instances, with balancing, breakers and retries."""

    def __init__(
        self,
        service_for: Callable[[str], str] | None,
        registry: Registry,
        *,
        token_for: Callable[[str], str] | None = None,
        connect_timeout_s: float = 0.5,
        default_timeout_s: float = 2.0,
        max_concurrency: int = 256,
        retry_budget_ratio: float = 0.2,
        refresh_interval_s: float = 1.0,
        client: httpx.AsyncClient | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_attempts: int = 3,
        hedge_after_s: float | None = 0.25,
        breaker_factory: Callable[[], CircuitBreaker] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_concurrency < 1 or max_attempts < 1:
            raise ValueError("max_concurrency and max_attempts must be at least 1")
        self._service_for = service_for or (lambda module: module)
        self._registry = registry
        self._token_for = token_for
        self._connect_timeout_s = connect_timeout_s
        self._default_timeout_s = default_timeout_s
        self._max_concurrency = max_concurrency
        self._retry_budget_ratio = retry_budget_ratio
        self._refresh_interval_s = refresh_interval_s
        self._max_attempts = max_attempts
        #: An idempotent call not answered within this gets a backup attempt on another instance.
        self._hedge_after_s = hedge_after_s
        self._breaker_factory = breaker_factory or CircuitBreaker
        self._balancer = P2CBalancer(rng)
        #: For other internal HTTP (the ops view's scrapes), made on first use unless given.
        self._client = client
        self._owns_client = client is None
        #: Port calls go through aiohttp: its C HTTP parser and lean request path cost a fraction
        #: of httpx's CPU per call (``twitterclone bench hop``). Made in the running loop on the
        #: first call; with mutual TLS it presents this process's certificate (``ssl_context``).
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._pools: dict[str, _Pool] = {}
        self._closed = False

    # -- the Transport protocol ---------------------------------------------------------------

    async def call(
        self, module: str, method: str, body: bytes, *, idempotent: bool, waits: bool = False
    ) -> tuple[int, bytes]:
        """Send one port call; returns the answering instance's (status, body) or raises Unavailable."""
        if self._closed:
            raise Unavailable(f"cannot call {module}.{method}: the transport is closed")
        remaining = remaining_s()
        if remaining is not None and remaining <= 0:
            raise Unavailable(f"deadline exceeded before calling {module}.{method}")
        service = self._service_for(module)
        pool = await self._ready_pool(service, remaining)
        if pool.in_flight >= self._max_concurrency:
            pool.rejected += 1
            raise Unavailable(f"too many concurrent calls to {service}")
        pool.in_flight += 1
        try:
            return await self._call_with_retries(pool, module, method, body, idempotent, waits)
        finally:
            pool.in_flight -= 1

    # -- status ---------------------------------------------------------------------------------

    def snapshot(self) -> list[EndpointStatus]:
        """Every known instance: address, breaker state, calls in flight, recent failures."""
        rows: list[EndpointStatus] = []
        for service in sorted(self._pools):
            for ep in self._pools[service].ordered:
                rows.append(
                    EndpointStatus(
                        service=service,
                        instance_id=ep.instance.instance_id,
                        address=ep.instance.address,
                        state=str(ep.breaker.state),
                        in_flight=ep.in_flight,
                        consecutive_failures=ep.breaker.consecutive_failures,
                        recent_failures=ep.breaker.recent_failures(),
                        successes=ep.successes,
                        failures=ep.failures,
                    )
                )
        return rows

    def service_stats(self) -> list[ServiceStatus]:
        """Every downstream service: instances, calls in flight, rejections, retries, budget."""
        return [
            ServiceStatus(
                service=p.service,
                instances=len(p.ordered),
                available=sum(1 for e in p.ordered if e.breaker.available()),
                in_flight=p.in_flight,
                rejected=p.rejected,
                retries=p.budget.retries,
                retries_refused=p.budget.refused,
                budget_tokens=round(p.budget.tokens, 3),
                resolve_error=p.resolve_error,
                calls=p.budget.deposits,
                budget_cap=p.budget.cap,
            )
            for p in (self._pools[s] for s in sorted(self._pools))
        ]

    @property
    def client(self) -> httpx.AsyncClient:
        """An HTTP client for other internal requests (with this process's certificate under mutual TLS)."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._default_timeout_s, connect=self._connect_timeout_s),
                verify=self._ssl_context if self._ssl_context is not None else True,
                trust_env=False,  # internal calls never go through an environment-configured proxy
            )
        return self._client

    def _calls_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                # The per-service concurrency cap bounds connections; the pool must not queue calls.
                limit=0,
                keepalive_timeout=30,
                ssl=self._ssl_context if self._ssl_context is not None else True,
            )
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout_s),
                cookie_jar=aiohttp.DummyCookieJar(),  # internal answers set no cookies worth keeping
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                trust_env=False,  # internal calls never go through an environment-configured proxy
            )
        return session

    async def close(self) -> None:
        """Stop background refreshes and close the HTTP client (if this transport created it)."""
        self._closed = True
        tasks = [p.refresher for p in self._pools.values() if p.refresher is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
        if self._owns_client and self._client is not None:
            await self._client.aclose()

    async def aclose(self) -> None:
        await self.close()

    # -- instances ------------------------------------------------------------------------------

    async def _ready_pool(self, service: str, remaining: float | None) -> _Pool:
        pool = self._pools.get(service)
        if pool is None:
            pool = _Pool(service=service, budget=RetryBudget(self._retry_budget_ratio))
            self._pools[service] = pool
            pool.refresher = asyncio.create_task(self._refresh_loop(pool), name=f"resolve:{service}")
        if not pool.resolved.is_set():  # only the first calls to a service wait for the registry
            limit = self._default_timeout_s if remaining is None else min(self._default_timeout_s, remaining)
            try:
                await asyncio.wait_for(pool.resolved.wait(), timeout=limit)
            except TimeoutError:
                raise Unavailable(
                    f"cannot find instances of {service}: the registry did not answer"
                ) from None
        return pool

    async def _refresh_loop(self, pool: _Pool) -> None:
        while True:
            try:
                instances = await self._registry.resolve(pool.service)
            except RegistryStateUnknown as exc:  # "unknown" is not "none": keep the last known
                if pool.resolve_error is None:
                    log.info(
                        "registry lost its state; keeping known instances", extra={"service": pool.service}
                    )
                pool.resolve_error = str(exc)
            except Exception as exc:  # keep the last known instances; try again next round
                pool.resolve_error = f"{type(exc).__name__}: {exc}"
                log.warning("resolving instances failed", extra={"service": pool.service}, exc_info=True)
            else:
                pool.resolve_error = None
                self._update(pool, instances)
            pool.resolved.set()
            await asyncio.sleep(self._refresh_interval_s)

    def _update(self, pool: _Pool, instances: Sequence[Instance]) -> None:
        fresh: dict[str, Endpoint] = {}
        for instance in instances:
            ep = pool.endpoints.get(instance.instance_id)
            if ep is None or ep.instance.base_url != instance.base_url:
                ep = Endpoint(instance, self._breaker_factory())
            else:
                ep.instance = instance  # metadata may change; breaker and load stay
            fresh[instance.instance_id] = ep
        added = fresh.keys() - pool.endpoints.keys()
        removed = pool.endpoints.keys() - fresh.keys()
        if added or removed:
            log.info(
                "instances changed",
                extra={"service": pool.service, "added": sorted(added), "removed": sorted(removed)},
            )
        pool.endpoints = fresh
        pool.ordered = list(fresh.values())

    # -- calls ----------------------------------------------------------------------------------

    async def _call_with_retries(
        self, pool: _Pool, module: str, method: str, body: bytes, idempotent: bool, waits: bool = False
    ) -> tuple[int, bytes]:
        pool.budget.deposit()
        pool.hedges.deposit()
        path = wire.call_path(module, method)
        tried: set[str] = set()
        attempt = 1
        while True:
            remaining = remaining_s()
            if remaining is not None and remaining <= 0:
                raise Unavailable(f"deadline exceeded calling {module}.{method}")
            ep = self._pick(pool, tried)
            if ep is None:
                if not pool.ordered:
                    raise Unavailable(f"no instance of {pool.service} is registered")
                raise Unavailable(f"every instance of {pool.service} is failing (circuit open)")
            tried.add(ep.key)
            timeout = (
                self._default_timeout_s if remaining is None else min(self._default_timeout_s, remaining)
            )
            if waits and remaining is not None:
                timeout = remaining  # a long poll may take what its deadline allows
            if (
                not waits
                and idempotent
                and attempt < self._max_attempts
                and self._hedge_after_s is not None
                and timeout >= 2 * self._hedge_after_s  # else no time left for a backup to help
                # with no other instance to back it up, a hedge would only cost a task per call
                and any(e.key not in tried and e.breaker.available() for e in pool.ordered)
            ):
                outcome, attempts = await self._hedged(pool, ep, tried, module, path, body, timeout)
                attempt += attempts - 1
            else:
                outcome = await self._attempt(ep, module, path, body, timeout)
            if outcome.status is not None and (
                outcome.status not in RETRYABLE_STATUSES or outcome.downstream
            ):
                # An answer; a downstream failure is one too: every instance would relay it.
                return outcome.status, outcome.content
            may_retry = (idempotent or not outcome.sent) and attempt < self._max_attempts
            left = remaining_s()
            # A retry goes to an instance this call has not tried: the one that just failed or
            # hung would most likely do it again, and waiting on it twice is how a hung
            # instance used to cost a whole deadline.
            elsewhere = any(e.key not in tried and e.breaker.available() for e in pool.ordered)
            if may_retry and elsewhere and (left is None or left > 0) and pool.budget.try_spend():
                attempt += 1
                continue
            if outcome.status is not None:
                return outcome.status, outcome.content
            # The message may reach public clients: instance addresses go to the log only.
            log.warning(
                "port call failed",
                extra={"call": f"{module}.{method}", "address": ep.instance.address, "error": outcome.error},
            )
            raise Unavailable(f"{pool.service} did not answer {module}.{method}: {outcome.error}")

    def _pick(self, pool: _Pool, tried: set[str]) -> Endpoint | None:
        ep = self._balancer.pick(pool.ordered, avoid=tried)
        if ep is None or not ep.breaker.allow():
            return None
        return ep

    async def _hedged(
        self,
        pool: _Pool,
        first: Endpoint,
        tried: set[str],
        module: str,
        path: str,
        body: bytes,
        limit_s: float,
    ) -> tuple[_Outcome, int]:
        """One attempt, and a backup on another instance if it has not answered in ``hedge_after_s``.

        The first good outcome wins and the other attempt is cancelled; the loser, still
        pending after a later-started attempt answered, is counted as a failure of its
        instance (a hung instance is ejected after a few calls). A backup needs another usable
        instance and a token of the retry budget, like any retry. Returns (outcome, attempts).
        """
        assert self._hedge_after_s is not None
        first_task = asyncio.create_task(self._attempt(first, module, path, body, limit_s))
        tasks: dict[asyncio.Task[_Outcome], Endpoint] = {first_task: first}
        outrun: list[Endpoint] = []
        try:
            done, _ = await asyncio.wait(tasks, timeout=min(self._hedge_after_s, limit_s))
            if done:
                return next(iter(done)).result(), 1
            backup = None
            if any(e.key not in tried and e.breaker.available() for e in pool.ordered):
                backup = self._pick(pool, tried)
            if backup is None or not pool.hedges.try_spend():
                if backup is not None:
                    backup.breaker.release()
                return await first_task, 1
            tried.add(backup.key)
            left = max(0.001, limit_s - self._hedge_after_s)
            tasks[asyncio.create_task(self._attempt(backup, module, path, body, left))] = backup
            last: _Outcome | None = None
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    outcome = task.result()
                    if outcome.status is not None and (
                        outcome.status not in RETRYABLE_STATUSES or outcome.downstream
                    ):
                        if first_task in pending:  # beaten by an attempt that started later
                            outrun.append(first)
                        return outcome, 2
                    last = outcome
            assert last is not None
            return last, 2
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            for ep in outrun:
                before = ep.breaker.state
                ep.failures += 1
                ep.breaker.record_failure()
                self._log_transition(ep, before)

    async def _attempt(self, ep: Endpoint, module: str, path: str, body: bytes, limit_s: float) -> _Outcome:
        headers = self._headers(module, limit_s)
        before = ep.breaker.state
        ep.in_flight += 1
        session = self._calls_session()
        try:
            async with (
                asyncio.timeout(limit_s),
                session.post(ep.instance.base_url + path, data=body, headers=headers) as response,
            ):
                content = await response.read()
        except _NOT_SENT as exc:
            outcome = _Outcome(error=f"cannot connect ({type(exc).__name__})", sent=False)
        except aiohttp.ClientError as exc:
            outcome = _Outcome(error=f"connection failed ({type(exc).__name__})")
        except TimeoutError:
            outcome = _Outcome(error=f"timed out after {limit_s:.3f}s")
        except BaseException:  # cancelled (or a bug): no verdict on the instance
            ep.breaker.release()
            raise
        else:
            outcome = _Outcome(
                status=response.status,
                content=content,
                downstream=response.headers.get(FAILURE_HEADER) == DOWNSTREAM,
            )
        finally:
            ep.in_flight -= 1
        if outcome.status is None or (outcome.status >= 500 and not outcome.downstream):
            # Its own failure: no answer in time, or a 5xx it did not relay from a dependency.
            ep.failures += 1
            ep.breaker.record_failure()
        else:
            ep.successes += 1
            ep.breaker.record_success()
        self._log_transition(ep, before)
        return outcome

    def _headers(self, module: str, timeout: float) -> dict[str, str]:
        deadline = now_ms() + int(timeout * 1000)
        inherited = current_deadline_ms()
        if inherited is not None:
            deadline = min(deadline, inherited)
        headers = {"content-type": wire.CONTENT_TYPE, DEADLINE_HEADER: str(deadline)}
        if self._token_for is not None:
            headers["authorization"] = f"Bearer {self._token_for(module)}"
        request_id = request_id_var.get()
        if request_id:
            headers["x-request-id"] = request_id
        traceparent = traceparent_var.get()
        if traceparent:
            headers[TRACEPARENT_HEADER] = child_traceparent(traceparent)
        return headers

    def _log_transition(self, ep: Endpoint, before: BreakerState) -> None:
        after = ep.breaker.state
        if after is before:
            return
        extra = {"service": ep.instance.service, "address": ep.instance.address, "breaker": str(after)}
        if after is BreakerState.OPEN:
            log.warning(
                "instance ejected (circuit open)", extra={**extra, "backoff_s": ep.breaker.last_backoff_s}
            )
        elif after is BreakerState.CLOSED:
            log.info("instance restored (circuit closed)", extra=extra)
