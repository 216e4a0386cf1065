"""Overrides that shadow each other: where one makes another change nothing. Pure: takes
a schedule's overrides, returns the pairs (``schedules_service`` refuses duplicates and
full shadows and warns of partial ones)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vigil.oncall.schedules.definition import Override
from vigil.oncall.schedules.shifts import apply_override


@dataclass(frozen=True, slots=True)
class Shadow:
    """Where overrides ``hidden`` and ``by`` both apply (``[start, end)``), ``hidden`` makes
    no difference because of ``by``: overrides are applied in list order to one on-call set,
    so ``by`` either comes later and decides the outcome alone, or comes first and leaves
    nothing for ``hidden`` to change. ``full``: that holds over all of ``hidden``'s interval,
    so ``hidden`` changes nothing at all; ``duplicate``: the two are the same override."""

    hidden: int
    by: int
    start: datetime
    end: datetime
    full: bool
    duplicate: bool = False


_SOMEONE_ELSE = "\x00"  # stands for every user neither override names: all fare alike


def _subsets(overrides: Sequence[Override]) -> list[frozenset[str]]:
    """Every on-call set that can tell the overrides apart: all subsets of the users they
    name, plus one user they do not name."""
    names = sorted({_SOMEONE_ELSE, *(o.user for o in overrides),
                    *(o.replaces for o in overrides if o.replaces is not None)})
    return [frozenset(n for bit, n in enumerate(names) if mask >> bit & 1)
            for mask in range(1 << len(names))]


def _hides(first: Override, then: Override) -> tuple[bool, bool]:
    """(``then`` makes ``first`` irrelevant, ``first`` makes ``then`` irrelevant), applying
    ``first`` then ``then`` to any on-call set."""
    later_wins = first_wins = True
    for users in _subsets((first, then)):
        after_first = apply_override(first, users)
        both = apply_override(then, after_first)
        later_wins = later_wins and both == apply_override(then, users)
        first_wins = first_wins and both == after_first
    return later_wins, first_wins


def shadows(overrides: Sequence[Override], involving: int | None = None) -> list[Shadow]:
    """The pairs of ``overrides`` (in application order) where one makes the other
    irrelevant where their intervals meet, only those with ``involving`` if given; sorted
    by the later one's index, then the earlier one's. Overlaps that compose (``add alice``
    and ``add bob``; ``replace`` by carol and ``add dave``) are not shadows."""
    order = sorted(range(len(overrides)), key=lambda k: overrides[k].start)
    out: list[Shadow] = []
    for pos, i in enumerate(order):
        a = overrides[i]
        for j in order[pos + 1:]:
            b = overrides[j]
            if b.start >= a.end:
                break
            if involving is not None and involving not in (i, j):
                continue
            first, then = (i, j) if i < j else (j, i)
            out.extend(_shadow(overrides[first], overrides[then], first, then))
    out.sort(key=lambda s: (max(s.hidden, s.by), min(s.hidden, s.by)))
    return out


def _shadow(a: Override, b: Override, i: int, j: int) -> list[Shadow]:
    """``a`` (index ``i``) is applied before ``b`` (index ``j``); their intervals meet."""
    start, end = max(a.start, b.start), min(a.end, b.end)
    if a == b:
        return [Shadow(i, j, start, end, full=True, duplicate=True)]
    later_wins, first_wins = _hides(a, b)
    b_covers_a = b.start <= a.start and a.end <= b.end
    a_covers_b = a.start <= b.start and b.end <= a.end
    if later_wins and (b_covers_a or not (first_wins and a_covers_b)):
        return [Shadow(i, j, start, end, full=b_covers_a)]
    if first_wins:
        return [Shadow(j, i, start, end, full=a_covers_b)]
    return []
