"""Shared by the pure escalation core tests (tests/oncall/test_escalation_*.py): teams and
schedules as plain callbacks, a resolver over them, and builders for policies and runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.oncall.escalation.policy import (
    EscalationState,
    Notify,
    Policy,
    Resolver,
    Step,
    Target,
    TargetKind,
    due,
)

T0 = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)  # a Wednesday


TEAMS = {"on-call": ["olga"], "senior-engineers": ["sam", "sue"], "dbas": ["alice", "bob"],
         "mixed": ["alice", "zoe"]}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def team_members(team_id: str) -> list[str]:
    return list(TEAMS.get(team_id, []))


def on_call(schedule_id: str, when: datetime) -> list[str]:
    """'primary': day shift (anna) before 12:10 UTC on T0's day, night shift (nick) after."""
    if schedule_id != "primary":
        return []
    return ["anna"] if when < at(10) else ["nick"]


RESOLVER = Resolver(on_call=on_call, team_members=team_members)


def user(name: str) -> Target:
    return Target(TargetKind.USER, name)


def policy(*delays: int, repeat: int = 0, ack_timeout: int | None = None,
           targets: tuple[Target, ...] | None = None, multi_ack: bool = False,
           name: str = "p") -> Policy:
    """One step per delay (minutes); step i targets user ``u<i>`` unless ``targets``."""
    steps = tuple(Step(timedelta(minutes=d), targets or (user(f"u{i}"),), multi_ack=multi_ack)
                  for i, d in enumerate(delays))
    timeout = None if ack_timeout is None else timedelta(minutes=ack_timeout)
    return Policy(name, steps, repeat=repeat, ack_timeout=timeout)


def run(pol: Policy, state: EscalationState, minutes: float) -> tuple[EscalationState,
                                                                       list[Notify]]:
    return due(pol, state, at(minutes), RESOLVER)
