"""Routing by correlation rules: each alert to its rule and group key. Pure; no I/O.

A rule says which alerts it takes (a CEL condition, compiled once), how it groups them
(``group_by``), and what incident a group becomes (window, threshold, ``create_on``,
``resolve_on``, approval, title template, severity, category, team). Rules are tried in
``position`` order and the first whose condition holds takes the alert; when none does,
the built-in default rule groups by integration, service and alert name.

Cost stays flat as rules are added: each rule's condition is scanned for a conjunct that
pins a field to literal values (``labels.team == "db"``, ``service in ["a", "b"]``) and the
rule is filed under that field and value. An alert then reaches only the rules filed under
its own values, plus the few rules that pin nothing, before any CEL runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

import cel

from vigil.core.event import Action
from vigil.core.severity import SEVERITY_LABELS, Severity
from vigil.core.submission import Submission
from vigil.correlation import cel_bounds
from vigil.errors import InvalidInput
from vigil.templating.sandbox import BoundedEnvironment, Limits, compile_checked

DEFAULT_WINDOW = timedelta(minutes=10)
RESOLVE_ON = ("all", "first", "last", "never")
CREATE_ON = ("any", "all")
#: What ``group_by`` may name besides ``labels.<name>`` and ``annotations.<name>``.
GROUP_FIELDS = ("service", "name", "alertname", "environment", "source", "integration",
                "severity", "correlation_id")
CATEGORIES = ("security", "performance", "database", "network", "system", "application",
              "availability", "other")
#: Variables a condition may use (the alert as CEL sees it).
VARIABLES = frozenset({"labels", "annotations", "name", "alertname", "service", "environment",
                       "severity", "severity_level", "source", "integration", "summary",
                       "description", "correlation_id"})

#: Title templates render in the bounded sandbox, with a title's smaller budget.
_templates = BoundedEnvironment(Limits(output=4_096, steps=20_000, chars=200_000,
                                       seconds=0.5), autoescape=False)
#: An alert as a title template sees it, for the trial render when a rule is saved.
SAMPLE = {"labels": {"alertname": "HighLatency", "env": "prod", "cluster": "eu-1"},
          "annotations": {"summary": "p99 is 2.4 s"}, "name": "HighLatency",
          "alertname": "HighLatency", "service": "checkout", "environment": "prod",
          "severity": "critical", "severity_level": 5, "source": "alertmanager",
          "integration": 1, "summary": "p99 is 2.4 s", "description": "",
          "correlation_id": ""}


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    id: int
    tenant_id: int
    name: str
    position: int
    condition: str
    program: Any  # cel.Program, or None for "every alert"
    parts: tuple[Any, ...]  # create_on "all": one program per top-level ``||`` part
    group_by: tuple[str, ...]
    window: timedelta
    create_on: str
    threshold_alerts: int
    threshold_occurrences: int
    resolve_on: str
    require_approval: bool
    title_template: Any  # jinja2.Template or None
    severity: int | None
    priority: str | None
    category: str | None
    team: str | None
    index: tuple[str, tuple[str, ...]] | None = None  # (field, values) the rule is filed under
    needs: Needs | None = None  # what the condition reads, when that is knowable
    memo: dict[tuple[Any, ...], bool] = field(default_factory=dict)
    iterates: bool = False  # the condition has comprehensions (see cel_bounds)

    @property
    def gated(self) -> bool:
        """Whether its incidents wait (hidden) until a threshold or all parts are met."""
        return (self.threshold_alerts > 1 or self.threshold_occurrences > 1
                or (self.create_on == "all" and len(self.parts) > 1))


@dataclass(frozen=True, slots=True)
class Needs:
    """The parts of an alert a condition reads: top-level variables and, for ``labels``
    and ``annotations``, the keys. The condition's result is a function of these alone, so
    it is evaluated once per distinct combination (``CompiledRule.memo``)."""

    scalars: tuple[str, ...]
    maps: tuple[tuple[str, tuple[str, ...]], ...]

    def key(self, ctx: Mapping[str, Any]) -> tuple[Any, ...]:
        out: list[Any] = [ctx[v] for v in self.scalars]
        for name, keys in self.maps:
            values = ctx[name]
            out.extend(values.get(k) for k in keys)
        return tuple(out)

    def context(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {v: ctx[v] for v in self.scalars}
        for name, keys in self.maps:
            values = ctx[name]
            out[name] = {k: values[k] for k in keys if k in values}
        return out


MEMO_LIMIT = 4096


@dataclass(slots=True)  # not frozen: one is made per alert, and frozen init costs
class Route:
    """Where a trigger goes: its rule, its group key, and the ``create_on: all`` parts it
    satisfies."""

    rule: CompiledRule
    key: str
    parts: frozenset[int] = frozenset()
    context: Mapping[str, Any] = field(default_factory=dict)

    def title(self, fallback: str) -> str:
        """The incident's title: the rule's template, else ``fallback`` (at most 512
        characters, the column's width)."""
        template = self.rule.title_template
        if template is None:
            return fallback[:512]
        try:
            text = str(template.render(**self.context)).strip()
        except Exception:  # a template that fails on this alert falls back, never fails it
            return fallback[:512]
        return text[:512] or fallback[:512]


DEFAULT_RULE = CompiledRule(
    id=0, tenant_id=0, name="default", position=2**31 - 1, condition="", program=None,
    parts=(), group_by=("integration", "service", "name"), window=DEFAULT_WINDOW,
    create_on="any", threshold_alerts=1, threshold_occurrences=1, resolve_on="all",
    require_approval=False, title_template=None, severity=None, priority=None,
    category=None, team=None,
)


# --- compiling -------------------------------------------------------------------------

def compile_condition(source: str, *, field: str = "condition") -> Any:
    """A CEL program, or None for an empty condition (every alert). Invalid CEL, or a
    variable the alert does not have, is refused here: at save time, not at alert time."""
    text = source.strip()
    if not text:
        return None
    try:
        program = cel.compile(text)
    except (ValueError, RuntimeError) as exc:
        raise InvalidInput(f"{field}: invalid CEL: {str(exc).splitlines()[0]}",
                           field=field) from None
    unknown = sorted(free_variables(text, program) - VARIABLES)
    if unknown:
        raise InvalidInput(
            f"{field}: unknown variable {', '.join(unknown)}; a condition may use "
            f"{', '.join(sorted(VARIABLES))}", field=field)
    cel_bounds.check(text, field)  # nothing that could cost more than linear time
    return program


_MACRO = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)"
                    r"\s*,")


def free_variables(source: str, program: Any) -> set[str]:
    """The variables a condition takes from the alert: the program's, less the ones its
    macros bind (``labels.exists(k, ...)`` binds ``k``)."""
    return set(program.variables()) - set(_MACRO.findall(source))


def _check_group_field(name: str, field: str) -> None:
    if name in GROUP_FIELDS:
        return
    prefix, dot, rest = name.partition(".")
    if dot and prefix in ("labels", "annotations") and rest:
        return
    raise InvalidInput(
        f"{field}: {name!r} is not a field to group by; use labels.<name>, "
        f"annotations.<name> or one of {', '.join(GROUP_FIELDS)}", field=field)


def compile_title(source: str | None, *, field: str = "title_template") -> Any:
    """A title template, compiled and tried on :data:`SAMPLE`: a syntax error, a sandbox
    escape or a bound hit is a 422 naming ``field``."""
    if not source:
        return None
    return _compiled_title(source, field)


@lru_cache(maxsize=1024)
def _compiled_title(source: str, field: str) -> Any:
    return compile_checked(_templates, source, field, SAMPLE)


def compile_rule(data: Mapping[str, Any], *, id: int = 0, tenant_id: int = 1) -> CompiledRule:
    """Build a rule from its stored (already schema-checked) fields. Raises InvalidInput
    naming the field for anything only compiling can tell."""
    condition = str(data.get("condition") or "")
    program = compile_condition(condition)
    create_on = str(data.get("create_on") or "any")
    parts: tuple[Any, ...] = ()
    if create_on == "all":
        texts = split_top(condition, "||")
        parts = tuple(compile_condition(t, field="condition") for t in texts) if texts else ()
    group_by = tuple(data.get("group_by") or ())
    for i, name in enumerate(group_by):
        _check_group_field(name, f"group_by[{i}]")
    severity = data.get("severity")
    return CompiledRule(
        id=id, tenant_id=tenant_id, name=str(data.get("name") or ""),
        position=int(data.get("position") or 0), condition=condition, program=program,
        parts=parts, group_by=group_by,
        window=timedelta(minutes=float(data.get("window_minutes") or 10)),
        create_on=create_on, threshold_alerts=int(data.get("threshold_alerts") or 1),
        threshold_occurrences=int(data.get("threshold_occurrences") or 1),
        resolve_on=str(data.get("resolve_on") or "all"),
        require_approval=bool(data.get("require_approval")),
        title_template=compile_title(data.get("title_template")),
        severity=int(Severity[str(severity).upper()]) if severity else None,
        priority=data.get("priority"), category=data.get("category"), team=data.get("team"),
        index=index_of(condition),
        needs=needs_of(condition, program),
        iterates=program is not None and _MACRO.search(condition) is not None,
    )




# --- indexing --------------------------------------------------------------------------

_STR = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_FIELD = (r"(?:(?P<map>labels|annotations)(?:\.(?P<key>[A-Za-z_][A-Za-z0-9_]*)"
          rf"|\[\s*(?P<qkey>{_STR})\s*\])|(?P<top>name|alertname|service|environment|"
          r"severity|source|correlation_id))")
_EQ = re.compile(rf"^\(?\s*{_FIELD}\s*==\s*(?P<value>{_STR})\s*\)?$")
_EQ_REV = re.compile(rf"^\(?\s*(?P<value>{_STR})\s*==\s*{_FIELD}\s*\)?$")
_IN = re.compile(rf"^\(?\s*{_FIELD}\s+in\s+\[(?P<values>[^\]]*)\]\s*\)?$")
_STR_ITEM = re.compile(_STR)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def split_top(source: str, op: str) -> list[str]:
    """``source`` split on ``op`` (``&&`` or ``||``) outside brackets and strings."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    i = 0
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and source.startswith(op, i):
            parts.append(source[start:i].strip())
            i += len(op)
            start = i
            continue
        i += 1
    parts.append(source[start:].strip())
    return [p for p in parts if p]


def index_of(condition: str) -> tuple[str, tuple[str, ...]] | None:
    """The field and literal values a condition requires, if some top-level conjunct pins
    one (so the rule can only match alerts with one of those values)."""
    text = condition.strip()
    if not text or len(split_top(text, "||")) > 1 or "?" in text:
        return None
    for conjunct in split_top(text, "&&"):
        for pattern in (_EQ, _EQ_REV, _IN):
            m = pattern.match(conjunct)
            if m is None:
                continue
            groups = m.groupdict()
            if groups["top"]:
                name = groups["top"]
            else:
                key = groups["key"] or _unquote(groups["qkey"])
                name = f"{groups['map']}.{key}"
            if pattern is _IN:
                values = tuple(_unquote(v) for v in _STR_ITEM.findall(groups["values"]))
                if not values:
                    continue
            else:
                values = (_unquote(groups["value"]),)
            return ("name" if name == "alertname" else name), values
    return None


_KEYED = re.compile(rf"\b(labels|annotations)\s*\[\s*({_STR})\s*\]")
_DOTTED = re.compile(r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


def needs_of(condition: str, program: Any) -> Needs | None:
    """What a condition reads, or None when it uses a map as a whole (``"env" in labels``,
    ``labels.exists(...)``, a computed key), in which case it always sees the full alert."""
    if program is None:
        return None
    keys: dict[str, set[str]] = {}
    for m in _KEYED.finditer(condition):
        keys.setdefault(m.group(1), set()).add(_unquote(m.group(2)))
    text = _STR_ITEM.sub('""', _KEYED.sub("__keyed__", condition))
    for m in re.finditer(r"\b(labels|annotations)\b", text):
        dotted = _DOTTED.match(text, m.end())
        if dotted is None or text[dotted.end():].lstrip().startswith("("):
            return None
        keys.setdefault(m.group(1), set()).add(dotted.group(1))
    variables = free_variables(condition, program)
    scalars = tuple(sorted(variables - {"labels", "annotations"}))
    maps = tuple((name, tuple(sorted(keys.get(name, ()))))
                 for name in ("labels", "annotations") if name in variables)
    return Needs(scalars, maps)


# --- routing ---------------------------------------------------------------------------

def context(sub: Submission) -> dict[str, Any]:
    """The alert as conditions, group keys and title templates see it."""
    ev = sub.event
    labels = ev.labels
    return {
        "labels": labels, "annotations": ev.annotations, "name": ev.name,
        "alertname": ev.name, "service": ev.service or "",
        "environment": ev.environment or "", "severity": SEVERITY_LABELS[ev.severity],
        "severity_level": int(ev.severity), "source": ev.source,
        "integration": sub.integration_id or 0, "summary": ev.summary,
        "description": ev.description or "",
        "correlation_id": labels.get("correlation_id") or ev.annotations.get(
            "correlation_id", ""),
    }


def _lookup(ctx: Mapping[str, Any], name: str) -> Any:
    split = _SPLIT.get(name)
    if split is None:
        prefix, dot, rest = name.partition(".")
        split = _SPLIT[name] = (prefix, rest if dot else None)
    if split[1] is not None:
        value: Any = ctx[split[0]].get(split[1], "")
        return value
    return ctx[name]


#: Field names split once ("labels.env" -> ("labels", "env"); "service" -> ("service",
#: None)): the lookup runs for every alert and rule.
_SPLIT: dict[str, tuple[str, str | None]] = {}


def _holds(program: Any, ctx: Mapping[str, Any]) -> bool:
    if program is None:
        return True
    try:
        return program.execute(ctx) is True
    except Exception:  # e.g. a missing label compared to a number: the rule does not take it
        return False


def _takes(rule: CompiledRule, ctx: Mapping[str, Any]) -> bool:
    needs = rule.needs
    if rule.iterates and (len(ctx["labels"]) > cel_bounds.ASSUMED_ITEMS
                          or len(ctx["annotations"]) > cel_bounds.ASSUMED_ITEMS):
        return False  # beyond what its cost was estimated for when saved
    if needs is None:
        return _holds(rule.program, ctx)
    key = needs.key(ctx)
    found = rule.memo.get(key)
    if found is None:
        found = _holds(rule.program, needs.context(ctx))
        if len(rule.memo) >= MEMO_LIMIT:
            rule.memo.clear()
        rule.memo[key] = found
    return found


class RuleSet:
    """One tenant's rules, indexed. ``route`` is the hot path."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = sorted(rules, key=lambda r: (r.position, r.id))
        self._scan: list[CompiledRule] = []
        self._index: dict[str, dict[str, list[CompiledRule]]] = {}
        for rule in self.rules:
            if rule.index is None:
                self._scan.append(rule)
            else:
                by_value = self._index.setdefault(rule.index[0], {})
                for value in rule.index[1]:
                    by_value.setdefault(value, []).append(rule)
        self._order = {id(r): n for n, r in enumerate(self.rules)}

    def candidates(self, ctx: Mapping[str, Any]) -> list[CompiledRule]:
        found = list(self._scan)
        for name, by_value in self._index.items():
            value = _lookup(ctx, name)
            hits = by_value.get(value if type(value) is str else str(value))
            if hits:
                found.extend(hits)
        if len(found) > 1:
            found.sort(key=lambda r: self._order[id(r)])
        return found

    def match(self, ctx: Mapping[str, Any]) -> CompiledRule:
        for rule in self.candidates(ctx):
            if _takes(rule, ctx):
                return rule
        return DEFAULT_RULE


def default_key(integration_id: int | None, service: str | None, name: str) -> str:
    """The default rule's group: same integration, same service, same alert name (the
    format incidents have had from the start)."""
    key = f"default:{integration_id or 0}:{service or ''}:{name}"
    if len(key) <= 512:
        return key
    # The column holds 512 characters: a longer key keeps its start and a digest of the
    # whole, so two long names that share their first 470 characters stay apart.
    return f"{key[:470]}#{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def group_key(rule: CompiledRule, ctx: Mapping[str, Any]) -> str:
    if rule is DEFAULT_RULE:
        return default_key(ctx["integration"], ctx["service"], ctx["name"])
    values = "\x1f".join([str(_lookup(ctx, f)) for f in rule.group_by])
    return f"rule:{rule.id}:{values}"[:512]


def route(rulesets: Mapping[int, RuleSet], sub: Submission) -> Route | None:
    """The route of a trigger; None for acknowledges and resolves."""
    if sub.event.action is not Action.TRIGGER:
        return None
    ruleset = rulesets.get(sub.tenant_id)
    if ruleset is None:  # a tenant with no rules: the default rule, which needs no context
        return Route(DEFAULT_RULE, default_key(sub.integration_id, sub.event.service,
                                               sub.event.name))
    ctx = context(sub)
    rule = ruleset.match(ctx)
    parts: frozenset[int] = frozenset()
    if rule.create_on == "all" and rule.parts:
        parts = frozenset(n for n, p in enumerate(rule.parts) if _holds(p, ctx))
    return Route(rule, group_key(rule, ctx), parts, ctx)


def route_batch(rulesets: Mapping[int, RuleSet], batch: list[Submission]) -> list[Route | None]:
    return [route(rulesets, s) for s in batch]
