"""Inhibition as in Alertmanager: while an alert matching a rule's source matchers fires,
the alerts matching its target matchers that agree with it on every ``equal`` label are
inhibited. Pure; the caller loads the firing sources (see :func:`source_query`).

As in Alertmanager: a label missing on both sides counts as equal (missing is the empty
string), an alert never inhibits itself (an alert matching both sides is only inhibited
by another one), and a source inhibits whether or not it is itself silenced or inhibited.
Labels are the ones silences see (:func:`vigil.muting.silences.mute_labels`), so a rule can say
``severity="critical"`` or ``service="db"`` for any source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from vigil.alerts.dedup import AlertState
from vigil.core.event import Action
from vigil.core.severity import SEVERITY_LABELS
from vigil.core.submission import Submission
from vigil.errors import InvalidInput
from vigil.muting.matchers import Matcher, all_match, matcher, parse
from vigil.muting.silences import mute_labels

__all__ = [
    "FiringAlert",
    "InhibitRule",
    "InhibitSpec",
    "SourceQuery",
    "alert_labels",
    "inhibited",
    "rule_to_dict",
    "source_query",
    "validate_inhibit_rule",
]

MAX_MATCHERS = 50
MAX_EQUAL = 20
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True, slots=True)
class InhibitSpec:
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InhibitRule:
    id: int
    tenant_id: int
    spec: InhibitSpec


class FiringAlert(NamedTuple):
    """A possible source: an open (not resolved) alert with its labels as
    :func:`alert_labels` gives them."""

    tenant_id: int
    fingerprint: str
    labels: dict[str, str]


def alert_labels(alert: AlertState) -> dict[str, str]:
    """A stored alert's labels as :func:`vigil.muting.silences.mute_labels` gives an event's."""
    labels = {"alertname": alert.name,
              "severity": SEVERITY_LABELS.get(alert.severity, str(alert.severity))}
    if alert.service:
        labels["service"] = alert.service
    if alert.environment:
        labels["environment"] = alert.environment
    labels.update(alert.labels)
    return labels


# --- validation ----------------------------------------------------------------------------


def _matchers(value: Any, where: str) -> tuple[Matcher, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInput(f"{where}: expected a non-empty list of matchers", field=where)
    if len(value) > MAX_MATCHERS:
        raise InvalidInput(f"{where}: at most {MAX_MATCHERS}", field=where)
    out: list[Matcher] = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if isinstance(item, Matcher):
            out.append(item)
        elif isinstance(item, str):
            out.append(parse(item, field=at))
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str) \
                and isinstance(item.get("value"), str):
            out.append(matcher(item["name"], str(item.get("op", "=")), item["value"], field=at))
        else:
            raise InvalidInput(f"{at}: expected 'name=\"value\"' or {{name, op, value}}",
                               field=at)
    return tuple(out)


def validate_inhibit_rule(data: Mapping[str, Any]) -> InhibitSpec:
    """``{"source_matchers": [...], "target_matchers": [...], "equal": ["cluster", ...]}``;
    matchers as ``'severity="critical"'`` strings or ``{name, op, value}``. Both lists are
    required and non-empty; ``equal`` is optional. Raises InvalidInput naming the field
    (``source_matchers[1]``, ``equal[0]``, ...). Other keys are the caller's and ignored."""
    if not isinstance(data, Mapping):
        raise InvalidInput("expected an object", field="body")
    source = _matchers(data.get("source_matchers"), "source_matchers")
    target = _matchers(data.get("target_matchers"), "target_matchers")
    raw_equal = data.get("equal")
    if raw_equal is None:
        raw_equal = []
    if not isinstance(raw_equal, list | tuple):
        raise InvalidInput("equal: expected a list of label names", field="equal")
    if len(raw_equal) > MAX_EQUAL:
        raise InvalidInput(f"equal: at most {MAX_EQUAL} labels", field="equal")
    equal: list[str] = []
    for i, name in enumerate(raw_equal):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInput(f"equal[{i}]: {name!r} is not a label name", field=f"equal[{i}]")
        if name not in equal:
            equal.append(name)
    return InhibitSpec(source, target, tuple(equal))


def rule_to_dict(spec: InhibitSpec) -> dict[str, Any]:
    """The JSON form :func:`validate_inhibit_rule` reads back."""
    def dump(ms: tuple[Matcher, ...]) -> list[dict[str, str]]:
        return [{"name": m.name, "op": m.op, "value": m.value} for m in ms]
    return {"source_matchers": dump(spec.source_matchers),
            "target_matchers": dump(spec.target_matchers), "equal": list(spec.equal)}


# --- which alerts to load as sources --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceQuery:
    """What the caller should load as sources, in one query: the open (firing, acknowledged
    or suppressed; not resolved) alerts of ``tenant_ids``. ``alertnames[tenant]``, when not
    None, narrows it further to those alert names (every rule of that tenant pins
    ``alertname`` with ``=`` in its source matchers); it is a prefilter on the alert's name
    and is exact as long as an alert's ``alertname`` label, if any, equals its name (true
    of Alertmanager alerts). Then keep the rows for which :meth:`matches` holds."""

    tenant_ids: frozenset[int]
    alertnames: Mapping[int, frozenset[str] | None]
    _selectors: Mapping[int, tuple[tuple[Matcher, ...], ...]]

    def matches(self, tenant_id: int, labels: dict[str, str]) -> bool:
        """Whether an alert with these labels is a source of some rule of its tenant."""
        return any(all_match(ms, labels) for ms in self._selectors.get(tenant_id, ()))


def source_query(rules: Iterable[InhibitRule]) -> SourceQuery:
    """Which open alerts the caller needs as sources for ``rules``: see :class:`SourceQuery`."""
    selectors: dict[int, list[tuple[Matcher, ...]]] = {}
    names: dict[int, set[str] | None] = {}
    for rule in rules:
        ms = rule.spec.source_matchers
        have = selectors.setdefault(rule.tenant_id, [])
        if ms not in have:
            have.append(ms)
        known = names.setdefault(rule.tenant_id, set())
        pinned = {m.value for m in ms if m.name == "alertname" and m.op == "="}
        if not pinned:
            names[rule.tenant_id] = None  # any name can be a source
        elif known is not None and len(pinned) == 1:
            known.update(pinned)
        # two different alertname="..." in one rule: it matches nothing
    return SourceQuery(
        tenant_ids=frozenset(selectors),
        alertnames={t: frozenset(n) if n is not None else None for t, n in names.items()},
        _selectors={t: tuple(v) for t, v in selectors.items()},
    )


# --- inhibiting a batch ---------------------------------------------------------------------


def _key(labels: Mapping[str, str], equal: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in equal)


def inhibited(rules: Sequence[InhibitRule], sources: Iterable[FiringAlert | tuple[int, str,
              dict[str, str]]], batch: list[Submission]) -> dict[int, int]:
    """Index in ``batch`` -> the id of the first rule (in ``rules`` order) that inhibits
    that TRIGGER submission.

    ``sources`` are the tenants' open alerts (see :func:`source_query`); the batch updates
    them first: a trigger makes its alert a source with the trigger's labels, and a resolve
    removes it (the last event of an alert in the batch wins), so a critical and a warning
    arriving together inhibit at once. Sources are indexed per rule by their ``equal``
    values, so the cost is one dict look-up per (trigger, rule whose targets match), not
    a scan of the sources.
    """
    out: dict[int, int] = {}
    tenants = {s.tenant_id for s in batch if s.event.action is Action.TRIGGER}
    # Per tenant, its rules each with an index: equal-values -> up to two distinct source
    # fingerprints, enough to know whether a source other than the target itself is there.
    by_tenant: dict[int, list[tuple[InhibitRule, dict[tuple[str, ...], list[str]]]]] = {}
    for rule in rules:
        if rule.tenant_id in tenants:
            by_tenant.setdefault(rule.tenant_id, []).append((rule, {}))
    if not by_tenant:
        return out

    firing: dict[tuple[int, str], dict[str, str]] = {}
    for tenant_id, fingerprint, labels in sources:
        if tenant_id in by_tenant:
            firing[(tenant_id, fingerprint)] = labels
    trigger_labels: dict[int, dict[str, str]] = {}
    for i, sub in enumerate(batch):
        if sub.tenant_id not in by_tenant:
            continue
        if sub.event.action is Action.TRIGGER:
            trigger_labels[i] = mute_labels(sub.event)
            firing[(sub.tenant_id, sub.fingerprint)] = trigger_labels[i]
        elif sub.event.action is Action.RESOLVE:
            firing.pop((sub.tenant_id, sub.fingerprint), None)

    for (tenant_id, fingerprint), labels in firing.items():
        for rule, index in by_tenant[tenant_id]:
            if all_match(rule.spec.source_matchers, labels):
                bucket = index.setdefault(_key(labels, rule.spec.equal), [])
                if len(bucket) < 2 and fingerprint not in bucket:
                    bucket.append(fingerprint)

    for i, labels in trigger_labels.items():
        sub = batch[i]
        for rule, index in by_tenant[sub.tenant_id]:
            if not index or not all_match(rule.spec.target_matchers, labels):
                continue
            found = index.get(_key(labels, rule.spec.equal))
            if found and any(fp != sub.fingerprint for fp in found):
                out[i] = rule.id
                break
    return out
