"""Optional sampling profile of the server with py-spy (``BENCH_PROFILE=1``).

py-spy is not a Vigil dependency: ``.venv/bin/pip install py-spy``. It needs ptrace rights
on the server process (root, or CAP_SYS_PTRACE, or kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def find_pyspy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    if local.exists():
        return str(local)
    return shutil.which("py-spy")


class Profiler:
    """``py-spy record --format raw`` on a PID for a fixed time, in the background."""

    def __init__(self, exe: str, pid: int, seconds: int, out: Path) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
             "--format", "raw", "--function", "--threads", "--output", str(out),
             *(["--gil"] if os.environ.get("BENCH_PROFILE_GIL") else [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )

    def finish(self, timeout: float = 60.0) -> dict[str, Any]:
        try:
            output, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
        if self.proc.returncode != 0 or not self.out.exists():
            return {"error": output.decode(errors="replace")[-2000:]}
        return summarise(self.out)


#: Leaf frames of threads that are blocked, not working, which py-spy's idle detection
#: lets through: the anyio pool threads and the writer thread waiting for work.
IDLE_LEAVES = ("Condition.wait (threading.py", "_worker (concurrent/futures/thread.py",
               "Queue.get (queue.py", "Event.wait (threading.py")


def _thread_kind(name: str) -> str:
    """A label for a py-spy thread frame such as ``thread (123): vigil-writer_0``."""
    name = name.partition("): ")[2] or name
    if name.startswith("vigil-writer"):
        return "writer thread"
    if name.startswith("AnyIO worker"):
        return "anyio worker threads"
    if name == "MainThread":
        return "event loop (main thread)"
    return name.rstrip("_0123456789") or "other"


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Own time (the sampled leaf frame) and inclusive time per function, and where the
    samples fell by thread. Percentages are of the working samples (blocked waits dropped).

    Without ``--native``, time inside C code is charged to the Python frame that called it:
    ``do_execute``/``do_commit`` are SQLite itself (GIL released), and a bare
    ``Runner.run`` on the main thread is uvloop's C loop (socket I/O, or waiting)."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    own_by_kind: dict[str, Counter[str]] = {}
    total = 0
    idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        kind = "other"
        if frames[0].startswith("thread ("):
            kind = _thread_kind(frames.pop(0))
        if not frames:
            continue
        if frames[-1].startswith(IDLE_LEAVES):
            idle += count
            continue
        total += count
        threads[kind] += count
        own[frames[-1]] += count
        own_by_kind.setdefault(kind, Counter())[frames[-1]] += count
        for f in set(frames):
            incl[f] += count

    def rows(c: Counter[str], n: int = top) -> list[dict[str, Any]]:
        return [{"function": f, "samples": k, "pct": round(100 * k / total, 1)}
                for f, k in c.most_common(n)]

    return {
        "samples": total,
        "idle_samples_dropped": idle,
        "raw_file": str(raw),
        "threads": rows(threads),
        "own": rows(own),
        "inclusive": rows(incl, top * 2),
        "own_by_thread": {k: rows(v, 8) for k, v in own_by_kind.items()},
    }
