"""Configuration as code: ``vigil apply -f config/`` and ``vigil export``.

A folder of YAML files, each holding one or more documents. A document names its
``kind`` and carries the same fields as the API body for that kind, e.g.::

    kind: CorrelationRule
    name: prod-critical
    condition: labels.env == "prod" && severity in ["critical", "high"]
    group_by: [labels.cluster]

Applying is idempotent (objects are matched by ``name``): everything is parsed and
validated first, then applied in one transaction, so a bad file changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from vigil.correlation import kinds as correlation_kinds
from vigil.document_kinds import KINDS
from vigil.errors import InvalidInput
from vigil.incidents import kinds as incident_kinds
from vigil.muting import kinds as muting_kinds
from vigil.notify import kinds as notify_kinds
from vigil.oncall.escalation import kinds as escalation_kinds
from vigil.oncall.people import kinds as people_kinds
from vigil.oncall.schedules import kinds as schedule_kinds

#: The domains whose kinds files may hold: each registers its kinds when imported.
DOMAINS = (correlation_kinds, incident_kinds, muting_kinds, notify_kinds, escalation_kinds,
           people_kinds, schedule_kinds)


@dataclass(frozen=True)
class Document:
    where: str  # "file.yaml#2"
    kind: str
    body: BaseModel


def _files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        elif path.exists():
            out.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder", field="file")
    return out


def load(paths: Iterable[Path]) -> list[Document]:
    """Parse and validate every document; the first problem is raised, naming file,
    document and field."""
    docs: list[Document] = []
    for path in _files(paths):
        try:
            raw_docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{path}: not valid YAML: {exc}", field=str(path)) from None
        for n, raw in enumerate(raw_docs, 1):
            if raw is None:
                continue
            where = f"{path.name}#{n}"
            if not isinstance(raw, dict) or "kind" not in raw:
                raise InvalidInput(f"{where}: a document needs a kind "
                                   f"({', '.join(sorted(KINDS))})", field=f"{where}.kind")
            data = dict(raw)
            kind_name = str(data.pop("kind"))
            kind = KINDS.get(kind_name)
            if kind is None:
                raise InvalidInput(f"{where}: unknown kind {kind_name!r}; one of "
                                   f"{', '.join(sorted(KINDS))}", field=f"{where}.kind")
            try:
                body = kind.schema.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(x) for x in first["loc"])
                raise InvalidInput(f"{where}: {loc}: {first['msg']}",
                                   field=f"{where}.{loc}") from None
            try:
                kind.check(body)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc.message}",
                                   field=f"{where}.{exc.field or ''}") from None
            docs.append(Document(where, kind_name, body))
    return docs


def apply(session: Session, docs: list[Document], *, tenant_id: int,
          now: datetime) -> list[tuple[str, str, str]]:
    """(kind, name, outcome) for each document, in order. The audit log names the
    changes' actor ``system:config-file``."""
    from vigil.audit.capture import CONFIG_FILE, Fixed, acting_as

    with acting_as(CONFIG_FILE, clock=Fixed(now)):
        out = _apply(session, docs, tenant_id=tenant_id, now=now)
        session.flush()  # logged now, as the config file's
    return out


def _apply(session: Session, docs: list[Document], *, tenant_id: int,
           now: datetime) -> list[tuple[str, str, str]]:
    out = []
    for doc in docs:
        try:
            outcome = KINDS[doc.kind].apply(session, tenant_id, doc.body, now)
        except InvalidInput as exc:
            raise InvalidInput(f"{doc.where}: {exc.message}",
                               field=f"{doc.where}.{exc.field or ''}") from None
        label = getattr(doc.body, "username", None) or getattr(doc.body, "name", "")
        out.append((doc.kind, str(label), outcome))
    return out


def export(session: Session, *, tenant_id: int) -> str:
    docs: list[dict[str, Any]] = []
    # People before what names them, so the file applies back to an empty database.
    first = ["User", "Team", "Service", "Schedule", "NotificationChannel", "EscalationPolicy"]
    for name in sorted(KINDS, key=lambda k: (first.index(k) if k in first else len(first), k)):
        for body in KINDS[name].export(session, tenant_id):
            docs.append({"kind": name, **body})
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
