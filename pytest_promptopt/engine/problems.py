"""Session-wide problems: causes that keep every case of a session from running."""

from __future__ import annotations

from pytest_promptopt.errors import ConfigError
from pytest_promptopt.settings import Settings


def find_session_problems(settings: Settings) -> list[str]:
    """The causes found at the start of a session (a bad PROMPTOPT_SIMULATED_JUDGE_NOISE).

    Items consult the first one and report `not run: <cause>`; the summary names each once.
    """
    problems: list[str] = []
    if settings.uses_simulator:
        from pytest_promptopt.simulator.judge import noise_from_env

        try:
            noise_from_env()
        except ConfigError as exc:
            problems.append(str(exc))
    return problems
