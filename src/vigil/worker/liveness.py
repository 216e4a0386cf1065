"""What this node knows of its own background loops: consecutive failures and the last
success of each (in memory, per node), and the latest health report (``system.health``)
for pages that show it without querying."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Report:
    """Whether paging works, and if not, why (each reason one sentence)."""

    ok: bool = True
    reasons: tuple[str, ...] = ()
    consumers: tuple[dict[str, object], ...] = ()
    at: float = 0.0


@dataclass
class Liveness:
    failures: dict[str, int] = field(default_factory=dict)
    last_ok: dict[str, float] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)
    report: Report = field(default_factory=Report)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def succeeded(self, loop: str) -> None:
        with self._lock:
            self.failures[loop] = 0
            self.last_ok[loop] = time.time()

    def failed(self, loop: str, error: BaseException) -> int:
        with self._lock:
            self.failures[loop] = self.failures.get(loop, 0) + 1
            self.last_error[loop] = f"{type(error).__name__}: {error}"[:300]
            return self.failures[loop]
