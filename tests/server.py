"""Run a real ``vigil serve`` process for tests that need one (kill -9, real clients)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    api_key: str | None
    integration_key: str | None
    #: The newest one-time link to create the first administrator the log shows.
    setup_url: str | None = None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


def start_server(db_url: str, workdir: Path, *, port: int | None = None,
                 timeout: float = 30.0, env: Mapping[str, str] | None = None) -> Server:
    """``vigil serve`` on 127.0.0.1 (``port`` again to restart a node where it was);
    ``env`` adds or overrides ``VIGIL_*`` settings. The log is appended to, so a restart
    keeps what the first run printed (the first-run banner's keys)."""
    port = port or free_port()
    log = workdir / f"vigil-{port}.log"
    environ = {**os.environ, "VIGIL_DATABASE_URL": db_url, "VIGIL_PORT": str(port),
               "VIGIL_HOST": "127.0.0.1", "VIGIL_LOG_LEVEL": "warning", **(env or {})}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "vigil.cli", "serve"], cwd=workdir,
                                env=environ, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vigil exited with {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"vigil did not answer in {timeout}s: {log.read_text()}")
    text = log.read_text()
    api = re.search(r"Admin API key:\s+(\S+)", text)
    integ = re.search(r"Alertmanager integration:\s+(\S+)", text)
    setup = re.findall(r"(http://\S+/setup\?token=\S+)", text)
    if setup:
        SETUP_URLS[url] = setup[-1]
    return Server(proc, url, log, api.group(1) if api else None,
                  integ.group(1) if integ else None, setup[-1] if setup else None)


#: Each server's newest setup link, by its URL (for ``ui_browser.sign_up``).
SETUP_URLS: dict[str, str] = {}
