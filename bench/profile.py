"""Optional sampling profile of the server with py-spy (``BENCH_PROFILE=1``).

py-spy is not a Vigil dependency: ``.venv/bin/pip install py-spy``. It needs ptrace rights
on the server process (root, or CAP_SYS_PTRACE, or kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

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
             "--format", "raw", "--function", "--threads", "--output", str(out)],
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


def _thread_kind(frames: list[str]) -> str:
    joined = ";".join(frames)
    if "_commit (vigil/pipeline/runner.py" in joined or "vigil-writer" in joined:
        return "writer thread (group commit)"
    if ("anyio" in joined and "worker_thread" in joined) or "run_sync_in_worker" in joined:
        return "anyio worker threads"
    if "uvicorn" in joined or "run_forever" in joined or "run_until_complete" in joined:
        return "event loop thread"
    return "other"


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Own time (the sampled leaf frame) and inclusive time per function, and where the
    samples fell by thread. Percentages are of all non-idle samples."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    own_by_kind: dict[str, Counter[str]] = {}
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        if frames and frames[0].startswith(("thread (", "process ")):
            frames = [f for f in frames if not f.startswith(("thread (", "process "))]
        if not frames:
            continue
        total += count
        kind = _thread_kind(frames)
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
        "raw_file": str(raw),
        "threads": rows(threads),
        "own": rows(own),
        "inclusive": rows(incl, top * 2),
        "own_by_thread": {k: rows(v, 8) for k, v in own_by_kind.items()},
    }
