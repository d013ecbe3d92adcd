"""Duplicate cases in a suite: two ids that would send and judge exactly the same thing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_promptopt.suites.spec import Case

#: Fields that name or file a case without changing what it sends or how it is judged.
_LABELS = {"id", "category"}


def duplicate_cases(cases: Sequence[Case]) -> list[tuple[str, str]]:
    """(first id, later id) for every case identical to an earlier one but for its id/category.

    A duplicate counts twice in every mean and interval, and under `--optimize` one copy can
    land in the feedback and the other in a held-out split, which leaks it to the writers.
    """
    seen: dict[str, str] = {}
    found: list[tuple[str, str]] = []
    for case in cases:
        key = json.dumps(case.model_dump(mode="json", exclude=_LABELS), sort_keys=True)
        if key in seen:
            found.append((seen[key], case.id))
        else:
            seen[key] = case.id
    return found
