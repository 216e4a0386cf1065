"""Fault injection for tests, never shipped: a child process started with this directory on
``PYTHONPATH`` imports it at start-up (Python's ``sitecustomize`` hook).

``VIGIL_TEST_CRASH_BEFORE_ESCALATION_COMMIT=1`` kills the process (SIGKILL) when a
transaction that wrote escalation pages (``notification.intent`` outbox rows) is about to
commit: the escalation engine has decided, nothing of it is committed.
"""

from __future__ import annotations

import os
import signal
import weakref
from typing import Any

CRASH_ENV = "VIGIL_TEST_CRASH_BEFORE_ESCALATION_COMMIT"


def _install_crash_before_escalation_commit() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from vigil.outbox.contracts import INTENT
    from vigil.outbox.models import OutboxEvent

    paged: weakref.WeakSet[Session] = weakref.WeakSet()

    def pages(objects: Any) -> bool:
        return any(isinstance(o, OutboxEvent) and o.topic == INTENT for o in objects)

    @event.listens_for(Session, "after_flush")
    def _flushed(session: Session, _context: Any) -> None:
        if pages(session.new):  # (still the objects this flush inserted)
            paged.add(session)

    @event.listens_for(Session, "before_commit")
    def _committing(session: Session) -> None:
        if session.in_nested_transaction():  # a savepoint: the commit is still to come
            return
        if session in paged or pages(session.new):
            os.kill(os.getpid(), signal.SIGKILL)  # decided, not committed


if os.environ.get(CRASH_ENV):
    _install_crash_before_escalation_commit()
