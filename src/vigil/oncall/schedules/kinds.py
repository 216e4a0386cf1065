"""On-call schedules as YAML documents (``kind: Schedule``), the body being the schedule's
definition as the API takes it (see ``oncall.validation``)::

    kind: Schedule
    name: primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        rotation: {type: weekly, start: "2026-03-02", handoff: "09:00",
                   participants: [alice, bob, carol]}

Applying matches by name. Overrides, temporary schedules and swaps that a document leaves
out are kept as stored; the export writes them, so it round-trips. Overrides that duplicate
or fully shadow one another are refused when the documents are loaded. The users a
schedule names may be defined by documents applied later in the same run: they are checked
when the transaction commits, so an unknown user still changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vigil.document_kinds import Kind, register
from vigil.errors import Conflict, InvalidInput
from vigil.oncall.people.kinds import defer
from vigil.oncall.schedules import service as svc
from vigil.oncall.schedules.parse import parse_schedule


class ScheduleDocument(BaseModel):
    """The fields are checked by ``parse_schedule``, which names the offending one."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200)


def _data(body: Any) -> dict[str, Any]:
    assert isinstance(body, BaseModel)
    data: dict[str, Any] = svc.plain(body.model_dump())
    return data


def _check(body: Any) -> None:
    schedule = parse_schedule(_data(body))
    try:
        svc.override_warnings(schedule)
    except Conflict as exc:  # the loader names the file and document of an InvalidInput
        raise InvalidInput(exc.message, field=exc.field) from None


def _apply(session: Session, tenant_id: int, body: Any, now: datetime) -> str:
    data = _data(body)
    outcome = svc.apply_schedule(session, tenant_id=tenant_id, data=data, now=now)
    name = str(data["name"]).strip()

    def check() -> None:
        row = svc.by_name(session, tenant_id=tenant_id, name=name)
        if row is None:
            return
        try:
            svc.check_schedule_users(session, tenant_id=tenant_id, schedule=svc.load(row))
        except InvalidInput as exc:
            raise InvalidInput(f"Schedule {name!r}: {exc.field}: {exc.message}",
                               field=exc.field) from None
    defer(session, check)
    return outcome


_ORDER = ("description", "time_zone", "layers", "overrides", "temporary", "swaps")


def _export(session: Session, tenant_id: int) -> list[dict[str, Any]]:
    out = []
    for row in svc.list_schedules(session, tenant_id=tenant_id):
        stored = row.definition
        rest = {k: v for k, v in stored.items() if k not in _ORDER and k != "name"}
        out.append({"name": row.name, **{k: stored[k] for k in _ORDER if k in stored}, **rest})
    return out


register("Schedule", Kind(schema=ScheduleDocument, apply=_apply, export=_export, check=_check))
