"""What a template may cost while it renders, and the checks that keep it there: the
budget of one render, the size of values, and estimates of what an operation, filter or
string method would make before it makes it. Used by ``vigil.templating.sandbox`` (the sandbox);
no Jinja here."""

from __future__ import annotations

import math
import operator
import re
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from string import Formatter
from typing import Any

MAX_RANGE = 10_000  #: items ``range()`` may make
MAX_ITEMS = 20_000  #: items in one value made while rendering (nested ones count)
MAX_VALUE = 1_000_000  #: characters in one value made while rendering
MAX_INT_BITS = 4_096  #: bits of an integer made while rendering (about 1,200 digits)
MAX_WIDTH = 100_000  #: a width, count or precision given to a filter or string method
MAX_FORMAT_WIDTH = 1_000  #: a width or precision in a ``%`` or ``{}`` format
CLOCK_EVERY = 64


@dataclass(frozen=True, slots=True)
class Limits:
    output: int = 100_000  #: characters of rendered text
    steps: int = 100_000  #: loop iterations, calls, filters, operations, attribute reads
    chars: int = 2_000_000  #: characters made in all (outputs, buffers, results)
    seconds: float = 1.0  #: wall-clock backstop


class TemplateRefused(Exception):
    """A template went past a bound or tried what the sandbox forbids."""


class Budget:
    """What is left of one render's :class:`Limits`. The clock is read every
    :data:`CLOCK_EVERY` steps (the steps themselves bound the time; it is a backstop)."""

    __slots__ = ("chars", "clock_at", "deadline", "limits", "steps")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = limits.steps
        self.chars = limits.chars
        self.clock_at = limits.steps - CLOCK_EVERY
        self.deadline = time.monotonic() + limits.seconds

    def spend(self, steps: int = 1, chars: int = 0) -> None:
        self.steps -= steps
        self.chars -= chars
        if self.steps < self.clock_at or self.chars < 0:
            self._check()

    step = spend

    def _check(self) -> None:
        if self.steps < 0:
            raise TemplateRefused(f"the template takes more than {self.limits.steps} steps "
                                  "(loop iterations, calls, filters, operations)")
        if self.chars < 0:
            raise TemplateRefused(f"the template makes more than {self.limits.chars} "
                                  "characters while rendering")
        if time.monotonic() > self.deadline:
            raise TemplateRefused(f"the template takes longer than {self.limits.seconds} s "
                                  "to render")
        self.clock_at = self.steps - CLOCK_EVERY

    def charge(self, chars: int) -> None:
        self.spend(0, chars)

    def made(self, value: Any) -> Any:
        """Check and charge a value an operation, filter or call made."""
        if type(value) is str:
            if len(value) > MAX_VALUE:
                raise TemplateRefused(f"a value would be longer than {MAX_VALUE} characters")
            self.spend(1, len(value))
            return value
        items, chars = measure(value)
        if chars > MAX_VALUE:
            raise TemplateRefused(f"a value would be longer than {MAX_VALUE} characters")
        self.spend(1 + items // 4, chars)
        return value


CURRENT: ContextVar[Budget | None] = ContextVar("vigil_template_budget", default=None)


def current() -> Budget:
    found = CURRENT.get()
    if found is None:  # e.g. Jinja folding a constant while compiling: not now
        raise TemplateRefused("templates are only evaluated while rendering")
    return found


def measure(value: Any) -> tuple[int, int]:
    """(items, characters) of a value, walking containers up to :data:`MAX_ITEMS`."""
    if isinstance(value, str):
        return 1, len(value)
    items = chars = 0
    stack = [value]
    while stack:
        v = stack.pop()
        items += 1
        if isinstance(v, (str, bytes)):
            chars += len(v)
        elif isinstance(v, int):
            if v.bit_length() > MAX_INT_BITS:
                raise TemplateRefused(f"a number would have more than {MAX_INT_BITS} bits")
        elif isinstance(v, (list, tuple, set, frozenset, dict)):
            if items + len(stack) + 2 * len(v) > MAX_ITEMS:
                raise TemplateRefused(f"a value would hold more than {MAX_ITEMS} items")
            if isinstance(v, dict):
                stack.extend(v.keys())
                stack.extend(v.values())
            else:
                stack.extend(v)
    return items, chars


def _size(value: Any) -> int:
    items, chars = measure(value)
    return items + chars


def _too_big(estimate: int, what: str) -> None:
    if estimate > MAX_VALUE:
        raise TemplateRefused(f"{what} would make more than {MAX_VALUE} characters")


def int_arg(value: Any, what: str, limit: int = MAX_WIDTH) -> None:
    if isinstance(value, int) and abs(value) > limit:
        raise TemplateRefused(f"{what}: {value} is larger than {limit}")


# --- formats -----------------------------------------------------------------------------

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(fmt: str, args: Any) -> None:
    """``'%999999999d' % 1`` makes a billion characters: widths and precisions are capped,
    ``*`` is refused, and repeated named fields count for their size."""
    fields = 0
    for m in _PRINTF.finditer(fmt):
        fields += 1
        for part in m.groups():
            if part == "*":
                raise TemplateRefused("a format may not take its width from its arguments")
            if part is not None and int(part) > MAX_FORMAT_WIDTH:
                raise TemplateRefused(f"a format width is larger than {MAX_FORMAT_WIDTH}")
    values = args.values() if isinstance(args, Mapping) else (
        args if isinstance(args, tuple) else (args,))
    widest = max((_size(v) for v in values), default=0)
    _too_big(len(fmt) + fields * (widest + MAX_FORMAT_WIDTH), "the format")


def check_str_format(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    fields = 0
    for _, name, spec, _ in Formatter().parse(fmt):
        if name is None:
            continue
        fields += 1
        if spec and "{" in spec:
            raise TemplateRefused("a format may not take its width from its arguments")
        for number in re.findall(r"\d+", spec or ""):
            if int(number) > MAX_FORMAT_WIDTH:
                raise TemplateRefused(f"a format width is larger than {MAX_FORMAT_WIDTH}")
    values = [*args, *kwargs.values()]
    if len(values) == 1 and isinstance(values[0], Mapping):  # format_map
        values = list(values[0].values())
    widest = max((_size(v) for v in values), default=0)
    _too_big(len(fmt) + fields * (widest + MAX_FORMAT_WIDTH), "the format")


# --- what filters and string methods could make ------------------------------------------

def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], i: int, name: str,
         default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _replace(s: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    old, new = str(_arg(args, kwargs, 0, "old", "")), str(_arg(args, kwargs, 1, "new", ""))
    text = str(s)
    n = text.count(old) if old else len(text) + 1
    _too_big(len(text) + n * len(new), "replace")


def _join(seq: Any, sep: Any) -> None:
    items, chars = measure(seq)
    _too_big(chars + items * len(str(sep)), "join")


def _indent(s: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    width = _arg(args, kwargs, 0, "width", 4)
    int_arg(width, "indent")
    w = len(width) if isinstance(width, str) else int(width or 0)
    text = str(s)
    _too_big(len(text) + (text.count("\n") + 1) * w, "indent")


def _wordwrap(s: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    int_arg(_arg(args, kwargs, 0, "width", 79), "wordwrap")
    wrap = _arg(args, kwargs, 2, "wrapstring", None)
    _too_big(len(str(s)) * (1 + len(str(wrap or "\n"))), "wordwrap")


def _expandtabs(s: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    size = _arg(args, kwargs, 0, "tabsize", 8)
    int_arg(size, "expandtabs")
    text = str(s)
    _too_big(len(text) + text.count("\t") * int(size), "expandtabs")


def _translate(s: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    table = _arg(args, kwargs, 0, "table", {})
    widest = max((len(str(v)) for v in table.values()), default=1) if isinstance(
        table, Mapping) else 1
    _too_big(len(str(s)) * max(widest, 1), "translate")


def _ints(what: str, *names: str) -> Callable[[Any, tuple[Any, ...], Mapping[str, Any]], None]:
    def check(_: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        for i, name in enumerate(names):
            int_arg(_arg(args, kwargs, i, name, 0), what)
    return check


def _items_arg(what: str, name: str) -> Callable[[Any, tuple[Any, ...], Mapping[str, Any]],
                                                  None]:
    def check(_: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        int_arg(_arg(args, kwargs, 0, name, 0), what, MAX_RANGE)
    return check


def _sum(_: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    start = _arg(args, kwargs, 1, "start", 0)
    if not isinstance(start, (int, float)):  # sum of lists or strings is quadratic
        raise TemplateRefused("sum only adds numbers")


def _tojson(_: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    indent = _arg(args, kwargs, 0, "indent", None)
    if isinstance(indent, str) and len(indent) > 16:
        raise TemplateRefused("tojson: the indent is longer than 16")
    int_arg(indent, "tojson", 16)


_Check = Callable[[Any, tuple[Any, ...], Mapping[str, Any]], None]

#: Filters that can make much more than they are given, and how to bound them first.
FILTER_CHECKS: dict[str, _Check] = {
    "replace": _replace, "indent": _indent, "wordwrap": _wordwrap,
    "join": lambda v, a, k: _join(v, _arg(a, k, 0, "d", "")),
    "format": lambda v, a, k: _check_printf(str(v), k or a),
    "center": _ints("center", "width"), "truncate": _ints("truncate", "length"),
    "round": _ints("round", "precision"), "batch": _items_arg("batch", "linecount"),
    "slice": _items_arg("slice", "slices"), "sum": _sum, "tojson": _tojson,
}
#: The same for methods of strings (and bytes, and numbers).
METHOD_CHECKS: dict[str, _Check] = {
    "replace": _replace, "expandtabs": _expandtabs, "translate": _translate,
    "join": lambda s, a, k: _join(_arg(a, k, 0, "iterable", ()), s),
    "center": _ints("center", "width"), "ljust": _ints("ljust", "width"),
    "rjust": _ints("rjust", "width"), "zfill": _ints("zfill", "width"),
    "to_bytes": _ints("to_bytes", "length"),
}


def check_binop(op: str, left: Any, right: Any) -> None:
    if op == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and \
                abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
            raise TemplateRefused(f"a number would have more than {MAX_INT_BITS} bits")
    elif op == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int):
                _too_big(len(seq) * n, "a repeat")
                if not isinstance(seq, (str, bytes)):
                    _too_big(_size(seq) * n, "a repeat")
        if isinstance(left, int) and isinstance(right, int) and \
                left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateRefused(f"a number would have more than {MAX_INT_BITS} bits")
    elif op == "+":
        if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, type(left)):
            _too_big(len(left) + len(right), "a concatenation")
    elif op == "%" and isinstance(left, str):
        _check_printf(left, right)


BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
}
