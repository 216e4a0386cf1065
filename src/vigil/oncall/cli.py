"""``vigil oncall``: who is on call on every schedule, and the next handoff."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vigil.clock import SystemClock
from vigil.config import Settings
from vigil.db import Database
from vigil.errors import VigilError

_HEADERS = ("SCHEDULE", "ON CALL NOW", "NEXT HANDOFF")


def _handoff(handoff: dict[str, Any] | None) -> str:
    if handoff is None:
        return "-"
    when = handoff["at"].replace("T", " ").replace("Z", " UTC")
    return f"{when} -> {', '.join(handoff['after']) or '(nobody)'}"


def table(rows: list[dict[str, Any]]) -> str:
    """The rows of ``schedules_service.on_call`` as an aligned text table."""
    cells = [_HEADERS, *((r["name"], ", ".join(r["on_call"]) or "(nobody)",
                          _handoff(r["next_handoff"])) for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_HEADERS) - 1)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in cells)


def oncall(
    at: Annotated[str | None, typer.Option(
        help="an instant with an offset, e.g. 2026-03-01T09:00:00Z (default: now)")] = None,
) -> None:
    """Print who is on call on every schedule, and each schedule's next handoff."""
    from vigil.oncall.schedules import service as svc
    from vigil.tenants.models import DEFAULT_TENANT_ID

    settings = Settings()
    db = Database(settings.url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        when = svc.parse_instant(at, field="at", default=SystemClock().now())
        with db.read() as session:
            rows = svc.on_call(session, tenant_id=DEFAULT_TENANT_ID, at=when)
    except VigilError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    if not rows:
        typer.echo("no schedules")
        return
    typer.echo(f"on call at {svc.iso(when)}")
    typer.echo(table(rows))
