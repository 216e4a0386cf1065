"""An asyncio HTTP/1.1 load generator: raw keep-alive sockets, prebuilt request bytes.

Two modes:

* :func:`closed_loop` -- N connections, each sends its next request as soon as the previous
  answer is in. Measures the most the server takes (throughput).
* :func:`open_loop` -- requests are *scheduled* at a fixed rate, whatever the server does,
  and each latency is measured from the scheduled send time, not from when a connection
  became free. A slow server therefore shows up as latency (no coordinated omission).

Nothing is encoded, formatted or allocated per request while the clock runs, beyond the
response parsing: callers hand over a list of ready ``bytes``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")

#: Status recorded for a request that got no HTTP answer (connection refused, reset, ...).
CONN_ERROR = 0


@dataclass(frozen=True, slots=True)
class Req:
    """One prebuilt request: the bytes on the wire and how many alerts they carry."""

    data: bytes
    alerts: int = 1


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    retry_after: float | None
    close: bool


class HttpConnection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection, one request in flight at a time.

    Parses the status line, ``Content-Length`` bodies, ``Transfer-Encoding: chunked``
    bodies and (for completeness) bodies delimited by the connection closing.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._until_close: tuple[int, float | None] | None = None
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(cls, host, port)
        return proto

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._waiter is not None and self._until_close is None:
            self._parse()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if self._until_close is not None:
            status, retry_after = self._until_close
            waiter.set_result(Response(status, bytes(self._buf), retry_after, True))
        else:
            waiter.set_exception(ConnectionError(f"connection lost: {exc or 'closed by peer'}"))

    # -- client side ---------------------------------------------------------------------

    def request(self, data: bytes) -> asyncio.Future[Response]:
        """Send one prebuilt request; the future resolves with its parsed response."""
        fut: asyncio.Future[Response] = self._loop.create_future()
        if self.closed or self._transport is None or self._transport.is_closing():
            fut.set_exception(ConnectionError("connection is closed"))
            return fut
        self._waiter = fut
        self._transport.write(data)
        return fut

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()
        self.closed = True

    def _parse(self) -> None:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(buf[:end]).split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            self._fail(f"bad status line {lines[0][:80]!r}")
            return
        status = int(parts[1])
        length: int | None = None
        chunked = False
        close = parts[0] == b"HTTP/1.0"
        retry_after: float | None = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"retry-after":
                try:
                    retry_after = float(value.strip())
                except ValueError:
                    retry_after = None
        start = end + 4
        if chunked:
            got = _dechunk(buf, start)
            if got is None:
                return
            body, consumed = got
        elif length is not None or status in (204, 304) or 100 <= status < 200:
            length = length or 0
            if len(buf) < start + length:
                return
            body, consumed = bytes(buf[start : start + length]), start + length
        else:  # no length, not chunked: the body runs until the server closes
            del buf[:start]
            self._until_close = (status, retry_after)
            return
        del buf[:consumed]
        waiter, self._waiter = self._waiter, None
        if close:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(status, body, retry_after, close))

    def _fail(self, why: str) -> None:
        waiter, self._waiter = self._waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError(why))


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    """(body, bytes consumed) of a complete chunked body starting at ``pos``, else None."""
    out = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
        pos = eol + 2
        if size == 0:
            # Trailers (usually none), then an empty line.
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return bytes(out), eol + 2
                pos = eol + 2
        if len(buf) < pos + size + 2:
            return None
        out += buf[pos : pos + size]
        pos += size + 2


# --- results ---------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What one run saw, from the client side."""

    mode: str
    connections: int
    planned_requests: int
    sent: int = 0  # requests written (including 503 retries)
    statuses: Counter[int] = field(default_factory=Counter)
    accepted_requests: int = 0  # 202
    accepted_alerts: int = 0
    latencies_ns: list[int] = field(default_factory=list)  # 202 answers only
    elapsed_s: float = 0.0  # first send to last answer
    exhausted: bool = False  # the prebuilt requests ran out before the deadline
    target_rate: float | None = None  # open loop: scheduled requests/s
    max_backlog: int = 0  # open loop: most requests due but not yet sent
    max_dispatch_lag_ms: float = 0.0  # open loop: how late the scheduler itself ran
    client_cpu_s: float = 0.0  # load generator CPU time during the run
    error_samples: list[str] = field(default_factory=list)

    def record(self, resp: Response, alerts: int, latency_ns: int) -> None:
        self.statuses[resp.status] += 1
        if resp.status == 202:
            self.accepted_requests += 1
            self.accepted_alerts += alerts
            self.latencies_ns.append(latency_ns)
        elif len(self.error_samples) < 5:
            self.error_samples.append(f"{resp.status}: {resp.body[:300]!r}")

    def record_error(self, exc: BaseException) -> None:
        self.statuses[CONN_ERROR] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"connection error: {exc!r}")

    @property
    def rejected(self) -> dict[int, int]:
        return {s: n for s, n in sorted(self.statuses.items()) if s != 202}

    @property
    def requests_per_s(self) -> float:
        return self.accepted_requests / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def alerts_per_s(self) -> float:
        return self.accepted_alerts / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, p: float) -> float | None:
        """Nearest-rank percentile of the 202 latencies, in milliseconds."""
        lat = self.latencies_ns
        if not lat:
            return None
        if p >= 100:
            return max(lat) / 1e6
        k = max(0, math.ceil(p / 100 * len(lat)) - 1)
        return sorted(lat)[k] / 1e6

    def latency_summary(self) -> dict[str, float | None]:
        lat = sorted(self.latencies_ns)
        if not lat:
            return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}

        def pct(p: float) -> float:
            return lat[max(0, math.ceil(p / 100 * len(lat)) - 1)] / 1e6

        return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": lat[-1] / 1e6,
                "mean": sum(lat) / len(lat) / 1e6}

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "connections": self.connections,
            "planned_requests": self.planned_requests,
            "sent": self.sent,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "accepted_requests": self.accepted_requests,
            "accepted_alerts": self.accepted_alerts,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests_per_s": round(self.requests_per_s, 1),
            "alerts_per_s": round(self.alerts_per_s, 1),
            "latency_ms": {k: (round(v, 3) if v is not None else None)
                           for k, v in self.latency_summary().items()},
            "exhausted": self.exhausted,
            "target_rate": self.target_rate,
            "max_backlog": self.max_backlog,
            "max_dispatch_lag_ms": round(self.max_dispatch_lag_ms, 3),
            "client_cpu_s": round(self.client_cpu_s, 3),
            "error_samples": self.error_samples,
        }


# --- closed loop -----------------------------------------------------------------------------


async def closed_loop(
    host: str,
    port: int,
    requests: Sequence[Req],
    *,
    connections: int,
    duration_s: float | None,
    retry_503: bool = True,
    max_backoff_s: float = 1.0,
) -> LoadResult:
    """Send ``requests`` in order over ``connections`` keep-alive connections, each one
    sending its next request when the previous answer arrives, until ``duration_s`` has
    passed (None: until all are sent). A 503 is counted, then (``retry_503``) the same
    request is sent again after its Retry-After (capped at ``max_backoff_s``), the way
    Alertmanager retries; its alerts count once, when a 202 finally comes."""
    res = LoadResult("closed", connections, len(requests))
    conns = [await HttpConnection.open(host, port) for _ in range(connections)]
    next_index = 0
    cpu0 = time.process_time()
    start = time.perf_counter_ns()
    deadline = start + int(duration_s * 1e9) if duration_s is not None else None
    last_answer = start

    async def worker(slot: int) -> None:
        nonlocal next_index, last_answer
        conn = conns[slot]
        while True:
            if deadline is not None and time.perf_counter_ns() >= deadline:
                return
            if next_index >= len(requests):
                res.exhausted = deadline is not None
                return
            req = requests[next_index]
            next_index += 1
            while True:
                if conn.closed:
                    try:
                        conn = conns[slot] = await HttpConnection.open(host, port)
                    except OSError as exc:
                        res.record_error(exc)
                        await asyncio.sleep(0.1)
                        break
                t0 = time.perf_counter_ns()
                res.sent += 1
                try:
                    resp = await conn.request(req.data)
                except ConnectionError as exc:
                    res.record_error(exc)
                    conn.close()
                    break
                t1 = time.perf_counter_ns()
                last_answer = t1
                res.record(resp, req.alerts, t1 - t0)
                if resp.status == 503 and retry_503:
                    if deadline is not None and t1 >= deadline:
                        break
                    await asyncio.sleep(min(resp.retry_after or 1.0, max_backoff_s))
                    continue
                break

    try:
        await asyncio.gather(*(worker(i) for i in range(connections)))
    finally:
        for c in conns:
            c.close()
    res.elapsed_s = (last_answer - start) / 1e9
    res.client_cpu_s = time.process_time() - cpu0
    return res


# --- open loop -------------------------------------------------------------------------------


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[Req],
    *,
    rate: float,
    connections: int,
) -> LoadResult:
    """Schedule request ``i`` at ``start + i / rate`` and send it on the first free
    connection. Latency = answer time - *scheduled* time, so time spent waiting for a free
    connection (because the server is slow) counts. No retries: a 503 is just counted."""
    res = LoadResult("open", connections, len(requests), target_rate=rate)
    conns = [await HttpConnection.open(host, port) for _ in range(connections)]
    loop = asyncio.get_running_loop()
    interval_ns = 1e9 / rate
    backlog: deque[tuple[int, Req]] = deque()  # due, no free connection yet
    idle: deque[asyncio.Future[tuple[int, Req] | None]] = deque()  # free connections
    cpu0 = time.process_time()
    start = time.perf_counter_ns() + 20_000_000  # 20 ms to get every task waiting
    last_answer = start
    dispatching = True

    async def dispatcher() -> None:
        nonlocal dispatching
        i, n = 0, len(requests)
        while i < n:
            now = time.perf_counter_ns()
            first = True
            while i < n and start + int(i * interval_ns) <= now:
                scheduled = start + int(i * interval_ns)
                if first:  # how late this wake-up came, against the oldest request it sends
                    lag_ms = (now - scheduled) / 1e6
                    res.max_dispatch_lag_ms = max(res.max_dispatch_lag_ms, lag_ms)
                    first = False
                item = (scheduled, requests[i])
                i += 1
                while idle and idle[0].done():
                    idle.popleft()
                if idle:
                    idle.popleft().set_result(item)
                else:
                    backlog.append(item)
            res.max_backlog = max(res.max_backlog, len(backlog))
            if i < n:
                await asyncio.sleep(max(0.0, (start + int(i * interval_ns) - now) / 1e9))
        dispatching = False
        while idle:
            idle.popleft().set_result(None)

    async def worker(slot: int) -> None:
        nonlocal last_answer
        conn = conns[slot]
        while True:
            if backlog:
                item: tuple[int, Req] | None = backlog.popleft()
            elif not dispatching:
                return
            else:
                fut: asyncio.Future[tuple[int, Req] | None] = loop.create_future()
                idle.append(fut)
                item = await fut
            if item is None:
                return
            scheduled, req = item
            if conn.closed:
                try:
                    conn = conns[slot] = await HttpConnection.open(host, port)
                except OSError as exc:
                    res.record_error(exc)
                    continue
            res.sent += 1
            try:
                resp = await conn.request(req.data)
            except ConnectionError as exc:
                res.record_error(exc)
                conn.close()
                continue
            t1 = time.perf_counter_ns()
            last_answer = t1
            res.record(resp, req.alerts, t1 - scheduled)

    try:
        await asyncio.gather(dispatcher(), *(worker(i) for i in range(connections)))
    finally:
        for c in conns:
            c.close()
    res.elapsed_s = (last_answer - start) / 1e9
    res.client_cpu_s = time.process_time() - cpu0
    return res


# --- one-off requests and the event loop -------------------------------------------------------


async def timed_requests(host: str, port: int, data: bytes, count: int) -> list[tuple[int, float]]:
    """Send the same request ``count`` times, one after the other on one connection:
    [(status, milliseconds)]."""
    conn = await HttpConnection.open(host, port)
    out: list[tuple[int, float]] = []
    try:
        for _ in range(count):
            if conn.closed:
                conn = await HttpConnection.open(host, port)
            t0 = time.perf_counter_ns()
            resp = await conn.request(data)
            out.append((resp.status, (time.perf_counter_ns() - t0) / 1e6))
    finally:
        conn.close()
    return out


def event_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on uvloop when it is installed, else on the stdlib loop."""

    async def wrapper() -> T:
        return await main()

    try:
        import uvloop
    except ImportError:
        return asyncio.run(wrapper())
    return uvloop.run(wrapper())
