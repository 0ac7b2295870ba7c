"""The rules of docs/architecture.md ("Rules that never break") as a test assertion.

The checker itself is ``app.registrations.invariants`` (also used by the rush benchmark
and ``flask seats check``); this module turns its findings into a failing test.
"""

from __future__ import annotations

from app.registrations.invariants import rule_violations


def assert_rules(event_id: int) -> None:
    """Fail with every broken rule for the event."""
    problems = rule_violations(event_id)
    assert not problems, f"event {event_id} breaks the rules:\n  " + "\n  ".join(problems)
