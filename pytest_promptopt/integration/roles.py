"""The three parts a pytest process plays, chosen once: alone, xdist controller or xdist worker.

As pytest-cov does with `Central`/`DistMaster`/`DistWorker`, each role is one object whose
methods are the session hooks of that role, built from two halves:

- `CaseRunnerRole` (`case_runner.py`) runs case items: look-ahead, warm-up, --optimize first.
- `ReportingRole` (`reporting_role.py`) gathers case records, makes the session's CI decision
  (`session_gate.py`), finishes the run and writes the reports and the summary.

`Alone` is both; `Worker` only runs cases and sends its run id home; `Controller` only reports.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pytest_promptopt.integration import internals
from pytest_promptopt.integration.alone import Alone
from pytest_promptopt.integration.controller import Controller
from pytest_promptopt.integration.handoff import SESSION_UID_KEY
from pytest_promptopt.integration.worker import Worker

if TYPE_CHECKING:
    import pytest

    from pytest_promptopt.integration.role import SessionRole
    from pytest_promptopt.settings import Settings


def choose_role(config: pytest.Config, settings: Settings) -> SessionRole:
    """The role of this process, decided once from xdist's view of it."""
    workerinput = internals.worker_input(config)
    if workerinput is not None:
        uid = workerinput.get(SESSION_UID_KEY) or workerinput["testrunuid"]
        return Worker(config, settings, str(uid))
    if internals.is_controller(config):
        return Controller(config, settings, uuid.uuid4().hex)
    return Alone(config, settings, uuid.uuid4().hex)
