"""Runs of a small support suite through the simulator, in-process, for the baseline gate's
statistics (the tests and `benchmarks/baseline_gate_bench.py`).

Each case makes the same two requests a pytest run makes (the target answer, then the judge's
verdict, built by the plugin's own request builders) and sends them through `Simulator`; the
judge's noise comes from `PROMPTOPT_SIMULATED_JUDGE_NOISE`. A run's `seed` is the judge
request's sample index, so each seed is a distinct judge request with its own noise, as a
re-run with a real judge would be; the target's answer is the same in every run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pytest_promptopt.evaluation.answer import Answer
from pytest_promptopt.evaluation.judge import median_verdict, overall_score
from pytest_promptopt.evaluation.judge_calls import judge_call
from pytest_promptopt.evaluation.pairwise import (
    PairCase,
    PairJudgement,
    Reply,
    pairwise_call,
    preference,
)
from pytest_promptopt.evaluation.results import judge_shortfalls
from pytest_promptopt.evaluation.target import TargetCase
from pytest_promptopt.llm.requests import build_structured_request, response_parts
from pytest_promptopt.protocol import PairwisePreference, Verdict
from pytest_promptopt.simulator.core import Simulator
from pytest_promptopt.simulator.judge import NOISE_ENV
from pytest_promptopt.stats import CaseOutcome
from pytest_promptopt.suites.spec import Case, Suite

GOOD_PROMPT = (
    "You are a support assistant for an online shop. "
    "When a customer asks for a refund: apologise, ask for the order e-mail "
    "and state the 30-day policy. "
    "When a customer asks where a parcel is: ask for the tracking number and mention "
    "the delivery time of 3 to 5 days. "
    "When a customer wants to cancel: confirm the cancellation and mention the confirmation e-mail."
)
# The good prompt without its refund directive: the refund cases (8 of 24) lose what they need.
WORSE_PROMPT = (
    "You are a support assistant for an online shop. "
    "When a customer asks where a parcel is: ask for the tracking number and mention "
    "the delivery time of 3 to 5 days. "
    "When a customer wants to cancel: confirm the cancellation and mention the confirmation e-mail."
)
REFUND = "Apologises, asks for the order e-mail, states the 30-day policy"
PARCEL = "Asks for the tracking number and mentions the delivery time of 3 to 5 days"
CANCEL = "Confirms the cancellation and mentions the confirmation e-mail"
_INPUTS = {
    ("refund", REFUND): (
        "I want a refund for order 123",
        "Can I get a refund for the blue shoes?",
        "Please refund my last purchase, it broke",
        "The jacket does not fit, I want a refund",
        "I need a refund, the lamp arrived scratched",
        "How do I get a refund for a gift?",
        "Refund please, the size is wrong",
        "I would like a refund for order 777",
    ),
    ("parcel", PARCEL): (
        "Where is my parcel?",
        "My parcel has not arrived yet, where is it?",
        "Where is the parcel I ordered on Monday?",
        "Can you tell me where my parcel is right now?",
        "Where is my parcel with the garden chairs?",
        "My parcel is late, where is it?",
        "Where is parcel 42?",
        "Where is the parcel for my daughter's birthday?",
    ),
    ("cancel", CANCEL): (
        "I want to cancel my order",
        "Please cancel order 555",
        "Cancel my subscription box order please",
        "I changed my mind, cancel the order",
        "Can you cancel the order I placed today?",
        "I need to cancel order 909",
        "Cancel the duplicate order please",
        "I want to cancel the red kettle order",
    ),
}
CASES: tuple[tuple[str, str, str], ...] = tuple(
    (f"{topic}-{n}", text, expected)
    for (topic, expected), inputs in _INPUTS.items()
    for n, text in enumerate(inputs, 1)
)
THRESHOLD = 0.7


@contextmanager
def judge_noise(sd: float) -> Iterator[None]:
    """Set the simulated judge's noise for the block (restored afterwards)."""
    before = os.environ.get(NOISE_ENV)
    os.environ[NOISE_ENV] = str(sd)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(NOISE_ENV, None)
        else:
            os.environ[NOISE_ENV] = before


def _send(sim: Simulator, body: dict[str, object], sample: int = 0) -> dict[str, object]:
    """One Messages API call (sample `sample` of it) through the simulator's request handler."""
    raw_body = json.dumps(body).encode()
    status, _, raw = sim.respond("POST", "/v1/messages", raw_body, sample=sample)
    assert status == 200, raw
    result: dict[str, object] = json.loads(raw)
    return result


def _suite(prompt: str, cases: Sequence[tuple[str, str, str]], threshold: float) -> Suite:
    """The support suite with these cases, run with `prompt`."""
    return Suite(
        name="gate",
        prompt=prompt,
        threshold=threshold,
        cases=[Case(id=c, input=text, expected=expected) for c, text, expected in cases],
    )


def simulated_run(
    prompt: str,
    seed: int,
    cases: Sequence[tuple[str, str, str]] = CASES,
    threshold: float = THRESHOLD,
    repeats: int = 1,
    answer_sample: int = 0,
) -> dict[str, CaseOutcome]:
    """Each case's score and pass in one run of `prompt` whose judge requests are seed `seed`.

    `repeats` judge calls per answer (`--promptopt-judge-repeats`): their median verdict;
    `answer_sample` > 0 samples the target's answers (as a model at temperature 1 would).
    """
    sim = Simulator()
    suite = _suite(prompt, cases, threshold)
    outcomes: dict[str, CaseOutcome] = {}
    for case in suite.cases:
        target = TargetCase.render(suite, case, prompt, "simulated")
        exchange = target.opening()
        answer = response_parts(_send(sim, target.request(exchange, 0), sample=answer_sample))
        verdicts = []
        for repeat in range(repeats):
            # The judge request a pytest run sends for this answer (the plugin's own builder).
            call = judge_call(target, exchange, Answer(answer.text), repeat)
            body = build_structured_request(model="simulated", **call)
            # Samples share a body: the simulator tells them apart by the sample being sent.
            tool_input = response_parts(_send(sim, body, sample=seed)).tool_input or {}
            verdicts.append(Verdict.of(call["tool_model"].model_validate(tool_input)))
        verdict = median_verdict(verdicts, suite.criteria)
        score = overall_score(verdict.scores, suite.criteria)
        shortfalls = judge_shortfalls(verdict.scores, {}, suite.gate_for(case), threshold)
        topic = case.id.rsplit("-", 1)[0]  # the case's category: refund, parcel or cancel
        outcomes[case.id] = CaseOutcome(score, score >= threshold and not shortfalls, topic)
    return outcomes


def simulated_answers(
    prompt: str, cases: Sequence[tuple[str, str, str]] = CASES, answer_sample: int = 0
) -> dict[str, tuple[str, str | None, str]]:
    """Each case's (user turn, expected behaviour, answer) in a run of `prompt`, as
    `simulated_run` with the same `answer_sample` answers."""
    sim = Simulator()
    suite = _suite(prompt, cases, THRESHOLD)
    out = {}
    for case in suite.cases:
        target = TargetCase.render(suite, case, prompt, "simulated")
        exchange = target.opening()
        answer = response_parts(_send(sim, target.request(exchange, 0), sample=answer_sample))
        out[case.id] = (exchange.user_input, target.rendered.expected, answer.text)
    return out


CRITERIA = ("functionality", "safety", "consistency", "edge_case_handling")


def pairwise_run(
    old: dict[str, tuple[str, str | None, str]],
    new: dict[str, tuple[str, str | None, str]],
    seed: int,
) -> dict[str, PairJudgement]:
    """Each shared case judged by the simulated pairwise judge in both orders (seed `seed`),
    with the plugin's own pairwise request builder."""
    sim = Simulator()
    judged = {}
    for key in sorted(set(old) & set(new)):
        user, expected, answer = new[key]
        case = PairCase(key, user, expected, CRITERIA, Reply(old[key][2]), Reply(answer))
        prefs = []
        for new_first in (False, True):
            body = build_structured_request(
                model="simulated", **pairwise_call(case, new_first=new_first)
            )
            tool_input = response_parts(_send(sim, body, sample=seed)).tool_input or {}
            answered = PairwisePreference.model_validate(tool_input)
            prefs.append(preference(answered, new_first=new_first))
        judged[key] = PairJudgement(prefs[0], prefs[1])
    return judged
