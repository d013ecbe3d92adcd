"""A suite's `target`: the team's own function produces the answer that is judged.

It is called as `fn(prompt, case, client)`: `prompt` is the system prompt rendered for the case
(a candidate's under `--optimize`), `case` a `CaseInput`, and `client` the wired SDK client:
`anthropic.AsyncAnthropic` for an async function (awaited on the plugin's loop, beside the
other cases), `anthropic.Anthropic` for a sync one (run in a thread, so it never blocks the
loop), both within `--promptopt-check-timeout` of their own time. It returns a `str` or an
`anthropic.types.Message`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_promptopt.errors import PromptOptError
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import CodeTimeoutError, OwnCode
from pytest_promptopt.evaluation.bounded import is_async as is_async
from pytest_promptopt.llm.requests import response_parts
from pytest_promptopt.llm.wired import CallScope, call_scope

if TYPE_CHECKING:
    from pytest_promptopt.llm.wired import WiredClients


@dataclass(frozen=True)
class CaseInput:
    """What a target is given of a case: its id, what the user sent, the conversation, vars.

    `input` is the user turn being answered as text; `messages` the conversation as the
    Messages API takes it (content blocks and files included); `sample` the sample index.
    """

    id: str
    input: str
    messages: list[dict[str, Any]]
    vars: dict[str, Any] = field(default_factory=dict)
    category: str = "general"
    sample: int = 0


def resolve_target(target: str | Callable[..., Any] | None) -> tuple[Callable[..., Any], str]:
    """A suite's target as (function, how errors name it): an import path or a callable."""
    if target is None:
        raise PromptOptError("the suite has no target")
    if isinstance(target, str):
        from pytest_promptopt.suites.callables import resolve

        return resolve(target), target
    name = getattr(target, "__qualname__", None) or type(target).__name__
    return target, f"{getattr(target, '__module__', '?')}:{name}"


def answer_of(returned: Any, source: str) -> Answer:
    """An answer given as a `str` or an SDK `Message` (text, tool calls, stop reason).

    `source` starts the error for anything else, e.g. "target myapp:answer returned".
    """
    if isinstance(returned, str):
        return Answer(returned)
    dump = getattr(returned, "model_dump", None)
    if callable(dump) and getattr(returned, "type", None) == "message":
        return Answer.of(response_parts(dump(mode="json", exclude_none=True)))
    raise PromptOptError(
        f"{source} {type(returned).__name__}; an answer is a str or an anthropic.types.Message"
    )


class TargetRunner:
    """Calls targets with the wired clients, boundedly (sync ones off the loop, see `OwnCode`)."""

    def __init__(self, clients: WiredClients, *, code: OwnCode) -> None:
        self.clients = clients
        self.code = code

    async def call(
        self, fn: Callable[..., Any], where: str, prompt: str, case: CaseInput, scope: CallScope
    ) -> Answer:
        """The target's answer to one case; a PromptOptError naming the function if it fails."""
        try:
            client = self.clients.async_ if is_async(fn) else self.clients.sync
            with call_scope(scope):
                returned = await self.code.call(
                    fn, prompt, case, client, what=f"target {where}", scope=scope
                )
        except CodeTimeoutError:
            raise
        except Exception as exc:
            refused = self.clients.failure(scope)
            if refused is not None:  # the plugin refused a call (replay miss, cap, API error)
                raise refused from None
            from pytest_promptopt.errors import UserCodeError
            from pytest_promptopt.evaluation.tracebacks import user_traceback

            raise UserCodeError(
                f"target {where} raised {type(exc).__name__}: {exc}",
                what=f"target {where}",
                user_traceback=user_traceback(exc),
            ) from exc
        finally:
            self.clients.failure(scope)
        return answer_of(returned, f"target {where} returned")

    def close(self) -> None:
        """Nothing to let go: each sync call had a daemon thread of its own."""
