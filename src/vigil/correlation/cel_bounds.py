"""What a correlation rule's CEL condition may cost, checked when it is saved.

The CEL library (``common-expression-language``, cel-rust) has no cost limit and cannot
be interrupted, and one condition runs for every alert that reaches its rule. Nested
comprehensions multiply: eight ``[1,...,8].map(...)`` inside each other make 8**8 steps
(a 233-character condition froze the process for seconds per alert). So a condition is
refused (a 422 naming the field) unless its cost is linear in its own length and in the
alert's size:

- at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` nested brackets;
- at most :data:`MAX_COMPREHENSIONS` comprehensions (``all``, ``exists``, ``exists_one``,
  ``map``, ``filter``), none inside another one's arguments or range: no nesting, no
  chaining (``l.map(x, x + x).map(...)`` doubles with each link);
- an estimate of the steps (each token once; a comprehension's body once per item of
  its range: the literal's items, or :data:`ASSUMED_ITEMS` for alert data) of at most
  :data:`MAX_COST`;
- ``matches()`` takes a string literal (a pattern from the alert would be compiled for
  every evaluation), at most :data:`MAX_MATCHES` of them, each small: counted
  repetitions (``.{1000}``) are what makes the regex engine slow to compile.

At evaluation a condition with comprehensions does not take an alert whose labels or
annotations hold more than :data:`ASSUMED_ITEMS` entries (see ``engine._takes``), so the
estimate holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigil.errors import InvalidInput

MAX_LENGTH = 4_096
MAX_DEPTH = 32
MAX_COMPREHENSIONS = 8
#: What a comprehension over alert data (``labels``, ``annotations``) is assumed to
#: iterate; alerts with more entries are not evaluated by such conditions.
ASSUMED_ITEMS = 256
MAX_COST = 100_000
MAX_MATCHES = 8
MAX_PATTERN = 512
MAX_REPEAT = 256
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_OPEN = {"(": ")", "[": "]", "{": "}"}
_OPERATORS = frozenset({"&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*",
                        "/", "%", "?", ":", ",", "in"})

_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
        |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:,.()\[\]{}])
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str


def tokens(source: str) -> list[Token]:
    """CEL's tokens (the condition has compiled already, so this need not reject)."""
    out: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:  # something CEL took that this does not know: keep it as one char
            out.append(Token("op", source[pos]))
            pos += 1
            continue
        pos = m.end()
        kind = m.lastgroup or "op"
        if kind != "space":
            out.append(Token(kind, m.group()))
    return out


def _pairs(toks: list[Token], field: str) -> dict[int, int]:
    """Matching brackets, both ways; refuses nesting deeper than :data:`MAX_DEPTH`."""
    match: dict[int, int] = {}
    stack: list[int] = []
    for i, t in enumerate(toks):
        if t.kind != "op":
            continue
        if t.text in _OPEN:
            stack.append(i)
            if len(stack) > MAX_DEPTH:
                raise InvalidInput(f"{field}: nested more than {MAX_DEPTH} brackets deep",
                                   field=field)
        elif t.text in (")", "]", "}") and stack:
            j = stack.pop()
            match[i], match[j] = j, i
    return match


def _receiver_start(toks: list[Token], dot: int, match: dict[int, int]) -> int:
    """Where the expression before ``.macro(`` begins: a chain of names, literals,
    brackets, member accesses, calls and indexes."""
    j = dot - 1
    while j >= 0:
        t = toks[j]
        if t.kind == "op" and t.text in (")", "]", "}") and j in match:
            j = match[j]
        if j > 0 and toks[j - 1].text == "." and toks[j - 1].kind == "op":
            j -= 2
            continue
        opened = toks[j].kind == "op" and toks[j].text in _OPEN
        before = toks[j - 1] if j > 0 else None
        if opened and before is not None and (
                (before.kind == "ident" and before.text not in _OPERATORS)
                or (before.kind == "op" and before.text in (")", "]", "}"))):
            j -= 1
            continue
        break
    return max(j, 0)


def _items(toks: list[Token], start: int, end: int, match: dict[int, int]) -> int:
    """How many items a comprehension's range holds: a literal's, else alert data's."""
    if toks[start].text in ("[", "{") and match.get(start) == end:
        inside = toks[start + 1:end]
        if not inside:
            return 0
        depth = commas = 0
        for t in inside:
            if t.kind == "op" and t.text in _OPEN:
                depth += 1
            elif t.kind == "op" and t.text in (")", "]", "}"):
                depth -= 1
            elif t.kind == "op" and t.text == "," and depth == 0:
                commas += 1
        return commas + 1
    return ASSUMED_ITEMS


def _repeat_cost(pattern: str) -> int:
    """A rough size of a regex once counted repetitions are unrolled (``(a{10}){10}`` is
    100): the sum over the pattern of each atom times the counts around it."""
    stack: list[int] = [0]  # size of the group being read
    last = 0  # size of the last atom or group, which a quantifier repeats
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            last = 1
            stack[-1] += 1
            continue
        if c == "[":
            end = pattern.find("]", i + 2)
            i = len(pattern) if end < 0 else end + 1
            last = 1
            stack[-1] += 1
            continue
        if c == "(":
            stack.append(0)
        elif c == ")" and len(stack) > 1:
            last = stack.pop()
            stack[-1] += last
        elif c == "{":
            m = re.match(r"\{(\d*)(?:,(\d*))?\}", pattern[i:])
            if m is not None:
                counts = [int(g) for g in m.groups() if g]
                n = max(counts, default=1)
                stack[-1] += last * (n - 1)
                last *= n
                i += m.end()
                continue
            stack[-1] += 1
            last = 1
        elif c not in "|*+?^$":
            last = 1
            stack[-1] += 1
        i += 1
    return sum(stack)


def _pattern_text(literal: str) -> str:
    raw = literal[0] in "rR" or literal[:2].lower() in ("br", "rb")
    body = literal.lstrip("rRbB")
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    body = body[len(quote):len(body) - len(quote)]
    return body if raw else body.replace("\\\\", "\\")


def _check_matches(toks: list[Token], match: dict[int, int], field: str) -> None:
    calls = [i for i, t in enumerate(toks) if t.kind == "ident" and t.text == "matches"
             and i + 1 < len(toks) and toks[i + 1].text == "("]
    if len(calls) > MAX_MATCHES:
        raise InvalidInput(f"{field}: at most {MAX_MATCHES} matches() calls", field=field)
    for i in calls:
        close = match.get(i + 1, len(toks))
        args = toks[i + 2:close]
        method = i > 0 and toks[i - 1].text == "."
        pattern = args if method else args[2:] if len(args) > 2 and args[1].text == "," \
            else []
        if len(pattern) != 1 or pattern[0].kind != "string":
            raise InvalidInput(f"{field}: the pattern of matches() must be a string literal",
                               field=field)
        text = _pattern_text(pattern[0].text)
        if len(text) > MAX_PATTERN or _repeat_cost(text) > MAX_REPEAT:
            raise InvalidInput(
                f"{field}: the pattern of matches() is too large (at most {MAX_PATTERN} "
                f"characters, and counted repetitions such as {{100}} adding up to "
                f"{MAX_REPEAT})", field=field)


def check(source: str, field: str = "condition") -> int:
    """Refuse a condition whose evaluation could cost more than linear time (422 naming
    ``field``); returns how many comprehensions it has."""
    if len(source) > MAX_LENGTH:
        raise InvalidInput(f"{field}: longer than {MAX_LENGTH} characters", field=field)
    toks = tokens(source)
    match = _pairs(toks, field)
    spans: list[tuple[int, int, int]] = []  # (macro token, range start, closing paren)
    for i, t in enumerate(toks):
        if t.kind == "ident" and t.text in MACROS and i > 0 and toks[i - 1].text == "." \
                and i + 1 < len(toks) and toks[i + 1].text == "(":
            spans.append((i, _receiver_start(toks, i - 1, match), match.get(i + 1, len(toks))))
    if len(spans) > MAX_COMPREHENSIONS:
        raise InvalidInput(f"{field}: more than {MAX_COMPREHENSIONS} comprehensions "
                           "(all, exists, exists_one, map, filter)", field=field)
    cost = len(toks)
    for macro, start, close in spans:
        if any(start <= other < close for other, _, _ in spans if other != macro):
            raise InvalidInput(
                f"{field}: a comprehension ({toks[macro].text}) may not be nested in or "
                "chained onto another one: its cost would multiply", field=field)
        cost += _items(toks, start, macro - 2, match) * (close - macro)
    if cost > MAX_COST:
        raise InvalidInput(f"{field}: too costly to evaluate (an estimated {cost} steps, "
                           f"at most {MAX_COST})", field=field)
    _check_matches(toks, match, field)
    return len(spans)
