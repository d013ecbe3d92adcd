"""What every session role shares (settings, session uid, runtime, suite names) and its stash key.

The concrete roles (alone, xdist controller, xdist worker) are chosen in `roles.py`; collection
and fixtures reach the process's role through `role_of(config)` without importing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from pytest_promptopt.errors import SuiteError

if TYPE_CHECKING:
    from pytest_promptopt.engine.runtime import Runtime
    from pytest_promptopt.settings import Settings
    from pytest_promptopt.suites.spec import Case, Suite


class SessionRole:
    """One pytest process's part in a session; subclasses add the hooks of their role."""

    name = "role"
    shares_limit = False
    """True for xdist workers: their adaptive concurrency limit is kept in the database."""

    def __init__(self, config: pytest.Config, settings: Settings, session_uid: str) -> None:
        self.config = config
        self.settings = settings
        self.session_uid = session_uid
        self._runtime: Runtime | None = None
        self._suite_sources: dict[str, str] = {}

    def runtime(self) -> Runtime:
        """The process's runtime, built on first use."""
        if self._runtime is None:
            from pytest_promptopt.engine.runtime import Runtime

            self._runtime = Runtime(
                self.settings,
                session_uid=self.session_uid,
                share_limit=self.shares_limit,
                owner=self.owner(),
            )
        return self._runtime

    def owner(self) -> tuple[str, int] | None:
        """The (host, pid) whose death abandons the run; None: this process."""
        return None

    def runtime_if_built(self) -> Runtime | None:
        """The runtime, or None when nothing in this process needed it."""
        return self._runtime

    def claim_suite_name(self, name: str, source: str) -> None:
        """Suite names key the database, so two files may not share one."""
        if self._suite_sources.setdefault(name, source) != source:
            raise SuiteError(
                f"{source}: suite name {name!r} is already used by {self._suite_sources[name]}; "
                "give one of them a unique `name:`"
            )

    def upcoming_cases(self, nodeid: str) -> tuple[Sequence[tuple[Suite, Case]], int | None]:
        """The cases this process will run after `nodeid`, and the stride to refill them in."""
        return (), None


ROLE = pytest.StashKey[SessionRole]()


def role_of(config: pytest.Config) -> SessionRole:
    """The role this process plays in the session."""
    return config.stash[ROLE]
