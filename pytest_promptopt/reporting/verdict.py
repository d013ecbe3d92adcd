"""What a session tells the user at its end, decided once and rendered by every writer.

The order is fixed: session-wide problems (once each), the run-level gate's findings (each
named: an unmet pass-rate requirement, a baseline regression, a regressed variant), the prompts
`--promptopt-apply` wrote or did not write, the spend, then one line per suite. The terminal
summary, `report.json`, `report.md`, `report.html` and the GitHub step summary all render the
same `SessionVerdict`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from pytest_promptopt.evaluation.pass_rate import PassRateRequirement
from pytest_promptopt.evaluation.record import SuiteTotals
from pytest_promptopt.evaluation.variants import SuiteVariants
from pytest_promptopt.records.case import CaseRecord
from pytest_promptopt.records.totals import sum_costs
from pytest_promptopt.reporting.baseline import BaselineResult
from pytest_promptopt.stats import RULES

if TYPE_CHECKING:
    from pytest_promptopt.storage.database import Database

NOT_RUN = "not run: "
"""How the error of an item that a session-wide problem kept from running begins."""

OPTIMIZE_ROLES = ("generate", "analyze")
"""`llm_calls.role` values of the optimizer's own calls (prompt and case writers, analyst)."""


def plural(n: int, noun: str) -> str:
    """`1 case`, `2 cases`."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def calls(n: int) -> str:
    """`1 call`, `1,402 calls`."""
    return "1 call" if n == 1 else f"{n:,} calls"


def usd(value: float | None) -> str:
    """`$0.0028`, `$1.13`, or `cost unknown`."""
    if value is None:
        return "cost unknown"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


class SessionProblem(BaseModel):
    """One session-wide cause (no credentials, a bad setting): said once, with its items."""

    cause: str
    items: int = 0

    def describe(self) -> str:
        """`session error: <cause> (3 items not run)`."""
        count = f" ({plural(self.items, 'item')} not run)" if self.items else ""
        return f"session error: {self.cause}{count}"


class GateFinding(BaseModel):
    """What the run-level gate found, with its cases: a failure, or a note (a regressed variant).

    `fails_session` tells them apart; the line says `FAILED <kind> gate` or `NOTE <kind> gate`.
    """

    kind: Literal["pass-rate", "baseline", "variant", "judge-agreement"]
    suite: str
    text: str
    fails_session: bool = True
    cases: list[str] = Field(default_factory=list, description="Failing cases with reasons.")

    def describe(self) -> str:
        """`FAILED pass-rate gate: suite 'x': ...`."""
        head = "FAILED" if self.fails_session else "NOTE"
        return f"{head} {self.kind} gate: {self.text}"


class AppliedPrompt(BaseModel):
    """What `--promptopt-apply` did for one suite: the file written, or why none was."""

    suite: str
    applied: bool
    file: str | None = None
    prompt_id: int | None = None
    before: float | None = Field(None, description="The original's mean on `measured_on`.")
    after: float | None = Field(None, description="The chosen prompt's mean on `measured_on`.")
    measured_on: str = Field("held-out", description="The cases the decision rests on.")
    gain: float | None = Field(None, description="The paired gain on those cases.")
    interval: tuple[float, float] | None = Field(
        None, description="Its interval at the `apply` rule's level (`stats.RULES`)."
    )
    reason: str = ""

    def describe(self) -> str:
        """`applied: support_bot: wrote #9 to prompts/x.txt, held-out 0.71 -> 0.95, ...`."""
        figures = []
        if self.before is not None and self.after is not None:
            figures.append(f"{self.measured_on} {self.before:.2f} -> {self.after:.2f}")
        if self.gain is not None and (self.applied or "paired gain" not in self.reason):
            gain = f"paired gain {self.gain:+.3f}"
            if self.interval is not None:
                low, high = self.interval
                gain += f" [{low:+.3f}, {high:+.3f}] ({RULES['apply'].level:.0%})"
            figures.append(gain)
        tail = f" ({', '.join(figures)})" if figures else ""
        if self.applied:
            return f"applied: {self.suite}: wrote prompt #{self.prompt_id} to {self.file}{tail}"
        return f"not applied: {self.suite}: {self.reason}{tail}"


class OptimizeNote(BaseModel):
    """One optimized suite as its process saw it: the estimate, the spend, the apply outcome.

    Built where the pipeline ran (an xdist worker sends it home in `workeroutput`).
    """

    suite: str
    estimate_calls: int | None = None
    estimate_cost_usd: float | None = None
    calls: int = 0
    cost_usd: float | None = 0.0
    apply: AppliedPrompt | None = None


SpendRole = Literal["target", "judge", "user", "optimize"]
"""The roles a session's spend is shown by (`user`: a simulated user's model)."""


class RoleSpend(BaseModel):
    """The model calls of one role this session sent (cache hits cost nothing)."""

    role: SpendRole
    calls: int = 0
    cost_usd: float | None = 0.0


class Spend(BaseModel):
    """The session's spend by role and in total, against the start-of-run estimate."""

    roles: list[RoleSpend] = Field(default_factory=list)
    calls: int = 0
    cost_usd: float | None = 0.0
    cache_hits: int = 0
    pipeline_calls: int | None = Field(None, description="Of the total: the optimize pipelines'.")
    pipeline_cost_usd: float | None = None
    estimate_calls: int | None = None
    estimate_cost_usd: float | None = None

    def describe(self) -> str:
        """`spend: target 40 calls $0.01, judge ..., total 1,402 calls $1.13 (estimate ...)`."""
        roles = ", ".join(f"{r.role} {calls(r.calls)} {usd(r.cost_usd)}" for r in self.roles)
        text = f"spend: {roles + '; ' if roles else ''}session total {calls(self.calls)}, "
        text += usd(self.cost_usd)
        if self.cache_hits:
            text += f", {plural(self.cache_hits, 'answer')} from the cache"
        if self.pipeline_calls is not None:
            text += (
                f"; of which the optimize pipelines {calls(self.pipeline_calls)}, "
                f"{usd(self.pipeline_cost_usd)}"
            )
        if self.estimate_calls is not None:
            text += f" (estimated ~{self.estimate_calls:,} calls"
            if self.estimate_cost_usd is not None:
                text += f", ~{usd(self.estimate_cost_usd)}"
            text += " before cache hits)"
        return text


class SuiteHeadline(BaseModel):
    """One suite's line: cases, mean score over the judged ones, pass rate, calls, cost."""

    suite: str
    text: str


class VerdictLine(BaseModel):
    """One line of the verdict as shown, and whether it is bad news."""

    text: str
    bad: bool = False
    kind: Literal["problem", "gate", "case", "apply", "spend", "suite"]


class SessionVerdict(BaseModel):
    """What the session tells the user, in order; every writer renders this."""

    problems: list[SessionProblem] = Field(default_factory=list)
    gates: list[GateFinding] = Field(default_factory=list)
    """The run-level gate's findings (`gates` in `report.json`)."""
    applied: list[AppliedPrompt] = Field(default_factory=list)
    spend: Spend | None = None
    suites: list[SuiteHeadline] = Field(default_factory=list)

    def lines(self) -> list[VerdictLine]:
        """Every line in the verdict's order."""
        out = [VerdictLine(text=p.describe(), bad=True, kind="problem") for p in self.problems]
        for g in self.gates:
            out.append(VerdictLine(text=g.describe(), bad=g.fails_session, kind="gate"))
            out += [VerdictLine(text=f"    {c}", bad=False, kind="case") for c in g.cases]
        out += [VerdictLine(text=a.describe(), kind="apply") for a in self.applied]
        if self.spend is not None:
            out.append(VerdictLine(text=self.spend.describe(), kind="spend"))
        out += [VerdictLine(text=s.text, kind="suite") for s in self.suites]
        return out

    def headline(self) -> list[VerdictLine]:
        """The lines before the suites: problems, gates, applied prompts, spend."""
        return [line for line in self.lines() if line.kind != "suite"]


def suite_headline(t: SuiteTotals, note: OptimizeNote | None = None) -> str:
    """`support: 8 cases, mean score 0.97 (7 judged, 1 errored), pass rate 88% ..., $0.01`."""
    judged = t.cases - t.errors
    if t.mean_score is None:
        mean = f"no score ({plural(t.errors, 'case')} errored)"
    elif t.errors:
        mean = f"mean score {t.mean_score:.2f} ({judged} judged, {t.errors} errored)"
    else:
        mean = f"mean score {t.mean_score:.2f}"
    outcome = f"{t.passed} passed" + (f", {t.errors} errors" if t.errors else "")
    if t.refusals:
        outcome += f", {plural(t.refusals, 'refusal')}"
    text = (
        f"{t.name}: {plural(t.cases, 'case')}, {mean}, pass rate {t.pass_rate:.0%} ({outcome}), "
        f"calls {t.calls}, cache hits {t.cache_hits}, tokens {t.tokens}, "
        + ("cost unknown" if t.cost_usd is None else f"${t.cost_usd:.4f}")
    )
    if note is not None:  # the items judged from the pipeline's cache: say what it spent
        text += f"; its optimize pipeline {calls(note.calls)}, {usd(note.cost_usd)}"
    return text


def problems_of(
    records: Mapping[str, Sequence[CaseRecord]], known: Sequence[str] = ()
) -> list[SessionProblem]:
    """Session-wide causes: those `known` at the start, and those items were not run for."""
    counts: dict[str, int] = {cause: 0 for cause in known}
    for rows in records.values():
        for r in rows:
            if r.error is not None and r.error.startswith(NOT_RUN):
                cause = r.error.removeprefix(NOT_RUN)
                counts[cause] = counts.get(cause, 0) + 1
    return [SessionProblem(cause=c, items=n) for c, n in counts.items()]


def _failing_cases(rows: Sequence[CaseRecord]) -> list[str]:
    """The failing cases of a graded suite, each with the reason it did not pass."""
    return [f"{r.case_id}: {r.reason or r.outcome}" for r in rows if not r.passed]


def gate_findings(
    pass_rates: Sequence[PassRateRequirement],
    records: Mapping[str, Sequence[CaseRecord]],
    baselines: Mapping[str, BaselineResult] | None,
    variants: Sequence[SuiteVariants],
    baseline_error: str | None = None,
) -> list[GateFinding]:
    """Every finding, each named: unmet pass rates, baseline regressions, regressed variants."""
    out = [
        GateFinding(
            kind="pass-rate",
            suite=p.suite,
            text=p.describe(),
            cases=_failing_cases(records.get(p.suite, ())),
        )
        for p in pass_rates
        if p.failed
    ]
    for r in (baselines or {}).values():
        if r.regressed:
            cases = [f"{c}: went from pass to fail" for c in r.comparison.pass_to_fail_cases]
            if r.pairwise is not None:
                cases += [f"{c}: judged worse in both orders" for c in r.pairwise.loss_cases]
            out.append(
                GateFinding(
                    kind="baseline",
                    suite=r.suite,
                    text=(
                        f"{r.suite} regressed against its baseline (run {r.baseline_run_id}): "
                        f"the session fails; {r.describe_comparison()}"
                    ),
                    cases=cases,
                )
            )
    if baseline_error:
        out.append(GateFinding(kind="baseline", suite="", text=baseline_error))
    for sv in variants:
        for v in sv.variants[1:]:
            if v.paired and v.paired.get("verdict") == "regressed":
                out.append(
                    GateFinding(
                        kind="variant",
                        suite=v.suite,
                        fails_session=False,
                        text=(
                            f"{v.suite} regressed against {sv.first.suite}: mean score "
                            f"{v.mean_score_change or 0.0:+.2f} on "
                            f"{plural(v.shared_cases, 'shared case')}"
                        ),
                    )
                )
    return out


def spend_by_role(db: Database, run_id: int) -> list[RoleSpend]:
    """The calls this run sent, by role (target, judge, user, optimize), from `llm_calls`."""
    from pytest_promptopt.storage.repositories import LLMCallRepository

    with db.session_scope() as s:
        rows = LLMCallRepository(s).stats_by_role(run_id)
    merged: dict[SpendRole, list[tuple[int, float | None]]] = {}
    for role, calls, cost in rows:
        name: SpendRole = (
            "optimize"
            if role in OPTIMIZE_ROLES
            else ("target" if role == "target" else ("user" if role == "user" else "judge"))
        )
        merged.setdefault(name, []).append((calls, cost))
    return [
        RoleSpend(
            role=name,
            calls=sum(c for c, _ in merged[name]),
            cost_usd=sum_costs(cost for _, cost in merged[name]),
        )
        for name in ("target", "judge", "user", "optimize")
        if name in merged
    ]


def session_spend(
    roles: Sequence[RoleSpend] | None,
    totals: Sequence[SuiteTotals],
    notes: Sequence[OptimizeNote],
) -> Spend:
    """The spend: by role when the database answered, else the items' own figures."""
    cache_hits = sum(t.cache_hits for t in totals)
    if roles:
        calls = sum(r.calls for r in roles)
        cost = sum_costs(r.cost_usd for r in roles)
    else:
        calls = sum(t.calls for t in totals) + sum(n.calls for n in notes)
        cost = sum_costs([*(t.cost_usd for t in totals), *(n.cost_usd for n in notes)])
    spend = Spend(roles=list(roles or []), calls=calls, cost_usd=cost, cache_hits=cache_hits)
    if notes:
        spend.pipeline_calls = sum(n.calls for n in notes)
        spend.pipeline_cost_usd = sum_costs(n.cost_usd for n in notes)
        estimates = [n.estimate_calls for n in notes]
        if all(e is not None for e in estimates):
            spend.estimate_calls = sum(e or 0 for e in estimates)
            costs = [n.estimate_cost_usd for n in notes]
            spend.estimate_cost_usd = (
                None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
            )
    return spend


def build_verdict(
    records: Mapping[str, Sequence[CaseRecord]],
    *,
    pass_rates: Sequence[PassRateRequirement] = (),
    baselines: Mapping[str, BaselineResult] | None = None,
    variants: Sequence[SuiteVariants] = (),
    notes: Sequence[OptimizeNote] = (),
    roles: Sequence[RoleSpend] | None = None,
    known_problems: Sequence[str] = (),
    baseline_error: str | None = None,
    more_gates: Sequence[GateFinding] = (),
) -> SessionVerdict:
    """The verdict of a session from its case records and what the session knew beside them."""
    totals = [SuiteTotals.of(name, rows) for name, rows in records.items()]
    by_suite = {n.suite: n for n in notes}
    return SessionVerdict(
        problems=problems_of(records, known_problems),
        gates=[
            *gate_findings(pass_rates, records, baselines, variants, baseline_error),
            *more_gates,
        ],
        applied=[n.apply for n in notes if n.apply is not None],
        spend=session_spend(roles, totals, notes),
        suites=[
            SuiteHeadline(suite=t.name, text=suite_headline(t, by_suite.get(t.name)))
            for t in totals
        ],
    )
