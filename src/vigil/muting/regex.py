"""Regular expressions that users give (the ``=~`` and ``!~`` label matchers of silences,
maintenance windows and inhibition rules), with RE2.

RE2 is the syntax and the semantics of Go's ``regexp``, which Alertmanager's matchers use,
and it matches in time linear in the text whatever the pattern: there is no backtracking,
so a pattern like ``(a+)+$`` cannot stall the process the way Python's ``re`` does on 30
characters. What RE2 cannot do in linear time (backreferences, lookahead and lookbehind,
possessive quantifiers, ``\\Z``) it refuses when the pattern is compiled, that is when the
silence or rule is saved.

Patterns are matched against the whole value (anchored at both ends, as Alertmanager wraps
them in ``^(?:...)$``). Compiled patterns are cached by their text (:func:`compile`), so
the rules' caches and the validators share one compiled copy of each.

google-re2 ships no type information: this module is the one place that touches it, and
keeps to its C++ binding (``re2._re2``, ``RE2::Match``), which the package's pure-Python
``re``-like layer is a wrapper over; a match costs about a microsecond.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from re2 import _re2  # type: ignore[import-untyped]

__all__ = ["MAX_MEM", "MAX_PATTERN", "Pattern", "RegexError", "cache_info", "compile"]

MAX_PATTERN: Final = 1000
"""Longest pattern accepted, in characters (as long as a matcher's value in the API). RE2
compiles in time about linear in the pattern, but holds the GIL meanwhile and some
constructs cost a lot per character (a Unicode class such as ``\\pL`` is an automaton of
its own): at this length the worst we found (hundreds of ``\\PL``) took 0.1-0.2 s on a
busy 2-core machine, once per pattern; without the cap, ten times as long."""
MAX_MEM: Final = 2 << 20
"""RE2's memory budget per pattern (compiled program and matching cache), in bytes: a
pattern whose program does not fit is refused ("pattern too large"); matching that would
need more falls back to RE2's slower, still linear, engine."""
CACHE_SIZE: Final = 2048

_ANCHOR_BOTH: Final[Any] = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_MATCH: Final = (-1, -1)


class RegexError(ValueError):
    """A pattern RE2 refuses; ``str(exc)`` says why, in RE2's words."""


def _options() -> Any:
    options = _re2.RE2.Options()
    options.max_mem = MAX_MEM
    options.never_capture = True  # only "does it match": groups cost time and memory
    options.log_errors = False  # refusals are answered to the user, not logged to stderr
    return options


_OPTIONS: Final[Any] = _options()


class Pattern:
    """A compiled pattern; :meth:`fullmatch` tells whether a whole text matches it."""

    __slots__ = ("_re", "text")

    def __init__(self, text: str) -> None:
        if len(text) > MAX_PATTERN:
            raise RegexError(f"longer than {MAX_PATTERN} characters")
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:
            raise RegexError("not valid Unicode text") from None
        compiled = _re2.RE2(encoded, _OPTIONS)
        if not compiled.ok():
            raise RegexError(_text(compiled.error()))
        self.text: Final = text
        self._re: Final[Any] = compiled

    def fullmatch(self, value: str) -> bool:
        """Whether all of ``value`` matches (RE2 semantics, linear in ``len(value)``)."""
        # Lone surrogates (possible in JSON text) pass through as bytes RE2 sees as
        # invalid UTF-8, which no character class matches: no error, no crash.
        data = value.encode("utf-8", "surrogatepass")
        spans: list[tuple[int, int]] = self._re.Match(_ANCHOR_BOTH, data, 0, len(data))
        return spans[0] != _NO_MATCH

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def _text(message: Any) -> str:
    if isinstance(message, bytes):
        return message.decode("utf-8", "replace")
    return str(message)


def compile(text: str) -> Pattern:
    """The compiled :class:`Pattern` for ``text``, from the cache if it was compiled before.
    Raises :class:`RegexError` for a pattern RE2 refuses (refusals are cached too, so a
    stored pattern that no longer compiles costs nothing each time the rules reload)."""
    found = _cached(text)
    if isinstance(found, RegexError):
        raise RegexError(str(found))
    return found


@functools.lru_cache(maxsize=CACHE_SIZE)
def _cached(text: str) -> Pattern | RegexError:
    try:
        return Pattern(text)
    except RegexError as exc:
        return exc


def cache_info() -> functools._CacheInfo:
    """Hits, misses and size of the compiled-pattern cache."""
    return _cached.cache_info()
