"""The plugin's exceptions: one base, a few subclasses, messages that say how to fix things."""

from __future__ import annotations

from pytest_promptopt.redaction import redact


class PromptOptError(Exception):
    """Base of every error the plugin raises on purpose; its message never holds a secret."""

    def __init__(self, *args: object) -> None:
        # The one door of every plugin error (API answers quoted, SDK messages, user code's
        # exceptions): what reaches the terminal, JUnit, the reports and the database.
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class SuiteError(PromptOptError):
    """A suite file or suite object is invalid; the message names file, case, field and fix."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ConfigError(PromptOptError):
    """A setting (flag, ini key or environment variable) has a value we cannot use."""


class DatabaseError(PromptOptError):
    """The database cannot be opened or is at a schema version this code does not know."""


class RunBusyError(PromptOptError):
    """A run another live process holds (a second `--promptopt-resume` of it)."""


class LLMError(PromptOptError):
    """A model call failed after retries; carries the status and request id when known."""

    def __init__(
        self, message: str, *, status: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id


class MissingCredentialsError(LLMError):
    """No API key, no cache hit and not the simulator: nothing can answer the call.

    `cause` is the message without the item's name: the session-wide problem it is.
    """

    def __init__(self, message: str, *, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message


class CacheMissError(LLMError):
    """`--promptopt-cache=replay` found no recorded response for a request."""


class BudgetExceededError(LLMError):
    """A hard cap (`--promptopt-max-calls` or `--promptopt-budget-usd`) stopped a call."""

    def __init__(self, message: str, *, cap: str) -> None:
        super().__init__(message)
        self.cap = cap


class JudgeError(LLMError):
    """The judge gave no usable verdict: a refusal, or an answer off the verdict schema twice."""


class WriterError(LLMError):
    """A writer (prompt or case generator, analyst, refiner) gave no usable answer: a refusal,
    or an answer off its tool's schema twice."""


class UserCodeError(PromptOptError):
    """The team's own function (a target or a `python` check) raised: its frames travel along.

    `what` names it (`target myapp:answer`, `python check myapp.checks:no_pii`);
    `user_traceback` is its traceback with the plugin's own frames left out.
    """

    def __init__(self, message: str, *, what: str, user_traceback: str) -> None:
        super().__init__(message)
        self.what = what
        self.user_traceback = user_traceback


class SessionProblemError(PromptOptError):
    """A session-wide cause (no credentials, a bad setting) kept this item from running."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"not run: {cause}")
        self.cause = cause
