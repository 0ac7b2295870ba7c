"""First come, first served with work teams: who the free seats go to, and places in line.

The rule (docs/architecture.md, rule 2 with the team rule): the waiting list is served in
``(created_at, id)`` order, one *unit* at a time. A unit is one registration, or all waiting
members of a team that asked to be kept together; such a team holds the place of its
earliest member. A unit that does not fit in the seats left is passed over and keeps its
place, and the units behind it that fit are served (first fit). So after every change no
waiting unit fits in the free seats.

Pure functions over plain rows: ``seats`` decides with them under the event lock, ``reads``
numbers the queue with them, and the tests check them against a model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple


class InLine(NamedTuple):
    """A waiting registration in queue order; ``team`` only for a kept-together team.
    (A tuple, made straight from a result row: a long waiting list has thousands.)"""

    id: int
    team: int | None = None


def units(waiting: Iterable[InLine]) -> list[list[int]]:
    """The queue's units in order: each a list of registration ids (a kept team's members
    together, at its earliest member's place)."""
    result: list[list[int]] = []
    by_team: dict[int, list[int]] = {}
    for row in waiting:
        if row.team is None:
            result.append([row.id])
        elif row.team in by_team:
            by_team[row.team].append(row.id)
        else:
            by_team[row.team] = [row.id]
            result.append(by_team[row.team])
    return result


def first_fit(queue: Sequence[Sequence[int]], free: int) -> list[int]:
    """The ids that get the ``free`` seats: each unit in order if it fits in what is left."""
    chosen: list[int] = []
    for unit in queue:
        if free <= 0:
            break
        if len(unit) <= free:
            chosen.extend(unit)
            free -= len(unit)
    return chosen


def places(queue: Sequence[Sequence[int]]) -> dict[int, int]:
    """Each waiting registration's place in line (1 = next); a kept team shares one."""
    return {member: place for place, unit in enumerate(queue, start=1) for member in unit}
