"""``vigil serve`` as a subprocess on a fresh SQLite file, plus a memory/CPU sampler."""

from __future__ import annotations

import collections
import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psutil

_API_KEY = re.compile(r"Admin API key:\s+(vgl_\S+)")
_AM_KEY = re.compile(r"Alertmanager integration:\s+([0-9a-f]{32})\b")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class VigilServer:
    """Starts ``vigil serve`` in ``workdir`` and stops it by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, vigil_bin: Path, workdir: Path, host: str = "127.0.0.1") -> None:
        self.vigil_bin = vigil_bin
        self.workdir = workdir
        self.host = host
        self.port = 0
        self.db_path = workdir / "vigil.db"
        self.proc: subprocess.Popen[bytes] | None = None
        self.admin_key = ""
        self.alertmanager_key = ""
        self.output: collections.deque[str] = collections.deque(maxlen=400)
        self._drain: threading.Thread | None = None
        self.stop_seconds = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        self.port = free_port(self.host)
        env = dict(os.environ)
        env.update(
            VIGIL_DATABASE_URL=f"sqlite:///{self.db_path}",
            VIGIL_HOST=self.host,
            VIGIL_PORT=str(self.port),
            PYTHONUNBUFFERED="1",
        )
        self.proc = subprocess.Popen(
            [str(self.vigil_bin), "serve"],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        # Keep reading the server's output so it can never block on a full pipe.
        self._drain = threading.Thread(target=self._read_output, name="vigil-output",
                                       daemon=True)
        self._drain.start()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigil serve exited with {self.proc.returncode}:\n"
                                   + self.tail())
            if time.monotonic() > deadline:
                raise RuntimeError(f"vigil serve not healthy after {timeout:.0f} s:\n"
                                   + self.tail())
            with (contextlib.suppress(OSError),
                  urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as resp):
                if resp.status == 200:
                    break
            time.sleep(0.2)
        text = "\n".join(self.output)
        api, am = _API_KEY.search(text), _AM_KEY.search(text)
        if not api or not am:
            raise RuntimeError("no first-run banner with keys in the server output:\n"
                               + self.tail())
        self.admin_key, self.alertmanager_key = api.group(1), am.group(1)

    def _read_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        copy = os.environ.get("BENCH_SERVER_LOG")  # a file to keep all of it in
        with open(copy, "a") if copy else contextlib.nullcontext() as keep:
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                self.output.append(line)
                if keep is not None:
                    keep.write(line + "\n")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(list(self.output)[-lines:])

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """A JSON API call with the admin key (setup only, never timed)."""
        data = orjson.dumps(body) if body is not None else None
        req = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.admin_key}",
                     "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return orjson.loads(raw) if raw else None

    def writer_totals(self) -> tuple[float, float, float]:
        """(seconds spent in pipeline commits, commits, alerts committed) so far, from the
        server's ``/metrics``."""
        with urllib.request.urlopen(f"{self.base_url}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        found = dict.fromkeys(("vigil_pipeline_commit_seconds_sum",
                               "vigil_pipeline_commit_seconds_count",
                               "vigil_pipeline_batch_size_sum"), 0.0)
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in found:
                found[name] = float(value)
        return tuple(found.values())  # type: ignore[return-value]

    def create_integration(self, type_: str, name: str) -> str:
        key: str = self.api("POST", "/api/v1/integrations", {"name": name, "type": type_})["key"]
        return key

    def count_alerts(self) -> int:
        """Rows in ``alerts``, read straight from the SQLite file (read-only)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=60)
        try:
            (n,) = conn.execute("SELECT count(*) FROM alerts").fetchone()
            return int(n)
        finally:
            conn.close()

    def count_incidents(self) -> int:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=60)
        try:
            (n,) = conn.execute("SELECT count(*) FROM incidents").fetchone()
            return int(n)
        finally:
            conn.close()

    def outbox_backlog(self) -> int:
        """Outbox events the escalation engine and the notifier have yet to consume."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=60)
        try:
            (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
            (done,) = conn.execute("SELECT coalesce(min(last_id), 0) FROM outbox_cursors "
                                   "WHERE name IN ('escalation', 'delivery')").fetchone()
            return max(int(top) - int(done), 0)
        finally:
            conn.close()

    def first_incident_id(self) -> int | None:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=60)
        try:
            (n,) = conn.execute("SELECT min(id) FROM incidents").fetchone()
            return int(n) if n is not None else None
        finally:
            conn.close()

    def db_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.workdir.glob("vigil.db*") if p.is_file())

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        started = time.monotonic()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.stop_seconds = time.monotonic() - started
        if self._drain is not None:
            self._drain.join(2)
        return proc.returncode


@dataclass
class Window:
    """Server RSS, and CPU of the server, of this (load generator) process and of the whole
    machine, over one scenario. ``other`` is everything else running on the machine."""

    peak_rss: int
    end_rss: int
    cpu_s: float
    seconds: float
    client_cpu_s: float = 0.0
    machine_cpu_s: float = 0.0

    @property
    def cores(self) -> float:
        return self.cpu_s / self.seconds if self.seconds else 0.0

    @property
    def other_cores(self) -> float:
        other = self.machine_cpu_s - self.cpu_s - self.client_cpu_s
        return max(0.0, other / self.seconds) if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        secs = self.seconds or 1.0
        return {"peak_rss_mb": mb(self.peak_rss), "end_rss_mb": mb(self.end_rss),
                "cpu_s": round(self.cpu_s, 2), "cpu_cores": round(self.cores, 2),
                "loadgen_cores": round(self.client_cpu_s / secs, 2),
                "other_cores": round(self.other_cores, 2)}


def _machine_busy_s() -> float:
    t = psutil.cpu_times()
    return float(sum(getattr(t, f, 0.0) for f in
                     ("user", "nice", "system", "irq", "softirq", "steal")))


def mb(n: int) -> float:
    return round(n / 2**20, 1)


class Sampler(threading.Thread):
    """Samples the server's RSS every ``interval`` seconds; keeps the overall peak and the
    peak since the last :meth:`begin`."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.current = 0
        self._window_peak = 0
        self._window_cpu = 0.0
        self._window_t = 0.0
        self._window_client = 0.0
        self._window_machine = 0.0
        self._me = psutil.Process()
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def _rss(self) -> int:
        try:
            return int(self.proc.memory_info().rss)
        except psutil.Error:
            return self.current

    def _cpu(self) -> float:
        try:
            t = self.proc.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self) -> int:
        rss = self._rss()
        with self._lock:
            self.current = rss
            self.peak = max(self.peak, rss)
            self._window_peak = max(self._window_peak, rss)
        return rss

    def begin(self) -> None:
        rss = self._rss()
        with self._lock:
            self.current = rss
            self.peak = max(self.peak, rss)
            self._window_peak = rss
            self._window_cpu = self._cpu()
            self._window_client = self._client_cpu()
            self._window_machine = _machine_busy_s()
            self._window_t = time.perf_counter()

    def end(self) -> Window:
        rss = self.sample()
        with self._lock:
            return Window(self._window_peak, rss, self._cpu() - self._window_cpu,
                          time.perf_counter() - self._window_t,
                          self._client_cpu() - self._window_client,
                          _machine_busy_s() - self._window_machine)

    def _client_cpu(self) -> float:
        t = self._me.cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)
