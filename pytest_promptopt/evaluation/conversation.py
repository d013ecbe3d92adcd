"""A simulated user's conversation: the user model writes the first message (unless the case
gives `input`), the model under test answers (through the tool loop when the suite's tools
run), the user model replies in character, until it says its goal is reached, `stop_when`
matches a reply, or `max_turns` replies were given.

The user model's calls are role `user`, structured (`submit_user_turn`: message,
goal_reached), sent with the sample's index so each sample is its own cached user. Every
entry of the trajectory has its `turn` and `speaker`: the model's steps as the tool loop
records them, the user's as {speaker: user, turn, text, goal_reached}; the last entry says
how the conversation `ended` (goal_reached, stop_when, max_turns or refusal).
"""

from __future__ import annotations

from typing import Any

from pytest_promptopt import protocol
from pytest_promptopt.evaluation.agent_loop import AgentLoop, model_steps, step_of
from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.bounded import OwnCode
from pytest_promptopt.evaluation.target import Exchange, TargetCase
from pytest_promptopt.llm.completion import Completion, UsageMeter
from pytest_promptopt.llm.service import LLMService
from pytest_promptopt.suites.agent import runs_tools
from pytest_promptopt.suites.users import SimulatedUser

USER_SYSTEM = (
    "You play a user talking to an AI assistant, to test it. Stay in character: the persona "
    "in the data is who you are and the goal is what you want from this conversation. Write "
    "as that user would, one message at a time, short and natural; never say you are "
    "simulated and never write the assistant's part."
)
USER_INSTRUCTIONS = (
    "The data holds your `persona`, your `goal`, the `conversation` so far ({role, text} "
    "turns; empty before your first message) and the `turn` and `max_turns`. Write your next "
    "message with the submit_user_turn tool. Set `goal_reached` true only when the "
    "assistant's replies so far give you what your goal asks (then `message` is your last "
    "word, such as thanks); otherwise false, and your message pushes toward the goal."
)
ENDINGS = ("goal_reached", "stop_when", "max_turns", "refusal")
"""How a simulated conversation ends, as its trajectory's last entry records it."""


class _Calls(UsageMeter):
    """A meter that keeps the calls it counts (the user model's, for the sample's figures)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Completion] = []

    def add(self, completion: Completion) -> Completion:
        """Keep and count a call; returns it."""
        self.calls.append(completion)
        return super().add(completion)


def user_entry(turn: int, text: str, goal_reached: bool | None) -> dict[str, Any]:
    """The trajectory's record of one user message (`goal_reached` None: the case's input)."""
    entry: dict[str, Any] = {"speaker": "user", "turn": turn, "text": text}
    if goal_reached is not None:
        entry["goal_reached"] = goal_reached
    return entry


class Conversation:
    """Runs one sample of a `user:` case: the simulated user against the model under test."""

    def __init__(self, llm: LLMService, code: OwnCode, user_model: str) -> None:
        self.llm = llm
        self.code = code
        self.user_model = user_model

    async def run(
        self, target: TargetCase, k: int, label: str, key: str | None, meter: UsageMeter
    ) -> tuple[Exchange, Answer, list[Completion], int, list[Completion]]:
        """The last exchange, the final reply (with the conversation as its trajectory), every
        call of the model under test, the last request's `max_tokens`, and the user model's
        calls (counted in `meter` by the caller, after the cost checks of the model's own)."""
        user = target.case.user
        assert user is not None
        steps: list[dict[str, Any]] = []
        answers: list[Completion] = []
        users = _Calls()
        exchange = target.opening()
        if exchange.messages:
            steps.append(user_entry(1, exchange.user_input, None))
        else:
            said = await self._user(user, (), 1, k, label, users)
            exchange = Exchange(
                ({"role": "user", "content": said.message},),
                ({"role": "user", "text": said.message},),
            )
            steps.append(user_entry(1, said.message, said.goal_reached))
        ended, max_tokens = "max_turns", 0
        for turn in range(1, user.max_turns + 1):
            exchange, made, max_tokens = await self._reply(
                target,
                exchange,
                k,
                f"{label} turn {turn}",
                key if turn == 1 else None,
                meter,
                steps,
                turn,
            )
            answers += made
            last = answers[-1]
            if last.stop_reason == "refusal":
                ended = "refusal"
                break
            if user.stops(last.text):
                ended = "stop_when"
                break
            shown = (
                *exchange.transcript,
                {"role": "assistant", "text": Answer.of(last).transcript_text()},
            )
            said = await self._user(user, shown, turn + 1, k, label, users)
            steps.append(user_entry(turn + 1, said.message, said.goal_reached))
            if said.goal_reached:
                ended = "goal_reached"
                break
            if turn < user.max_turns:
                exchange = exchange.then(last, said.message)
        steps[-1]["ended"] = ended
        final = Answer.of(answers[-1]).with_trajectory(tuple(steps))
        return exchange, final, answers, max_tokens, users.calls

    async def _reply(
        self,
        target: TargetCase,
        exchange: Exchange,
        k: int,
        label: str,
        key: str | None,
        meter: UsageMeter,
        steps: list[dict[str, Any]],
        turn: int,
    ) -> tuple[Exchange, list[Completion], int]:
        """The model under test's reply to the user's last message (its tool loop when the
        suite's tools run), its steps appended to `steps`."""
        first = len(steps)
        if runs_tools(target.suite, target.case):
            loop = AgentLoop(self.llm, self.code)
            exchange, made, max_tokens = await loop.turn(
                target, exchange, k, label, key=key, meter=meter, steps=steps, turn=turn
            )
        else:
            request = target.request(exchange, k)
            max_tokens = int(request["max_tokens"])
            answer = await self.llm.send(request, k, role="target", label=label, key=key)
            made = [meter.add(answer)]
            steps.append(step_of(model_steps(steps) + 1, answer, turn))
        for step in steps[first:]:
            step["speaker"] = "assistant"
        return exchange, made, max_tokens

    async def _user(
        self,
        user: SimulatedUser,
        transcript: tuple[dict[str, str], ...],
        turn: int,
        k: int,
        label: str,
        meter: _Calls,
    ) -> protocol.UserTurn:
        """The simulated user's next message (and whether its goal is reached)."""
        payload = {
            "persona": user.persona,
            "goal": user.goal,
            "conversation": [dict(t) for t in transcript],
            "turn": turn,
            "max_turns": user.max_turns,
        }
        said, _ = await self.llm.structured(
            role="user",
            model=self.user_model,
            system=USER_SYSTEM,
            instructions=USER_INSTRUCTIONS,
            payload=payload,
            tool=protocol.USER_TOOL,
            label=f"{label} user turn {turn}",
            sample=k,
            max_tokens=1024,
            meter=meter,
        )
        assert isinstance(said, protocol.UserTurn)
        return said
