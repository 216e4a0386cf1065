"""Label matchers as in Alertmanager: ``name=value``, ``!=``, ``=~`` and ``!~`` (regular
expressions anchored at both ends, in RE2 syntax like Alertmanager's Go ones, matched in
linear time: :mod:`vigil.muting.regex`). Pure; compiled once when a silence is saved."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from vigil.errors import InvalidInput
from vigil.muting import regex

Op = Literal["=", "!=", "=~", "!~"]
OPS: tuple[Op, ...] = ("=~", "!~", "!=", "=")  # longest first, for parsing
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: Op
    value: str
    # Follows from op and value; compared and hashed through them.
    pattern: regex.Pattern | None = dataclasses.field(default=None, compare=False)

    def matches(self, labels: dict[str, str]) -> bool:
        # A missing label matches as the empty string, as in Alertmanager.
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(got)
        return found if self.op == "=~" else not found

    def text(self) -> str:
        return f"{self.name}{self.op}{self.value}"


def matcher(name: str, op: str, value: str, *, field: str = "matchers") -> Matcher:
    """One matcher; raises InvalidInput naming ``field`` (``.name``, ``.op``, ``.value``),
    e.g. for a regular expression RE2 refuses (backreferences, lookaround)."""
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"{field}: {name!r} is not a label name", field=f"{field}.name")
    if op not in OPS:
        raise InvalidInput(f"{field}: operator must be one of =, !=, =~, !~",
                           field=f"{field}.op")
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = regex.compile(value)
        except regex.RegexError as exc:
            raise InvalidInput(f"{field}: invalid regular expression (RE2 syntax, as in "
                               f"Alertmanager): {exc}", field=f"{field}.value") from None
    return Matcher(name, op, value, pattern)


def parse(text: str, *, field: str = "matchers") -> Matcher:
    """``alertname=~"Disk.*"`` or ``service!=db`` (quotes optional)."""
    for op in OPS:
        name, sep, value = text.partition(op)
        if sep and name.strip():
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return matcher(name.strip(), op, value, field=field)
    raise InvalidInput(f"{field}: {text!r} is not a matcher like name=value", field=field)


def all_match(matchers: Sequence[Matcher], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
