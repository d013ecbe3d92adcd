"""Agreement of the judge with people: kappa, alpha, exact agreement and bias, with intervals.

Pure. The figures come from libraries, imported inside the functions: quadratic-weighted and
unweighted Cohen's kappa from scikit-learn (`cohen_kappa_score`, levels 1-5 as its labels, so
a disagreement of two levels weighs four times one of one level), Krippendorff's alpha
(ordinal) from `krippendorff`. Each figure has a seeded percentile bootstrap interval that
resamples the labelled answers (a unit: all the labels of one answer go in or out together, so
several labellers of one answer do not narrow it): alpha is the library's on every replicate;
the kappas, exact agreement and bias are computed on each replicate from its confusion matrix
(numpy, vectorised: scikit-learn's overhead on 1,999 replicates would cost a second per
criterion), the same formula scikit-learn uses, which the tests check replicate by replicate.

A figure that cannot be had (fewer than 2 pairs; one category only, where kappa and alpha are
0/0) is None with its reason; replicates where it is undefined are left out of its interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pytest_promptopt.imports import long_lived_imports
from pytest_promptopt.stats.intervals import BOOTSTRAP_SEED, CONFIDENCE

LEVELS = (1, 2, 3, 4, 5)
AGREEMENT_RESAMPLES = 1999
"""Bootstrap replicates of every agreement interval (fewer than `mean_interval`'s 9,999: alpha
is the library's on each replicate, and 1,999 percentile replicates put each 2.5% tail on 50)."""
MIN_AGREEMENT_LABELS = 10
"""The fewest labelled answers the agreement gate decides on (`min_judge_agreement`): with
fewer, a kappa interval spans most of [-1, 1] (on 9 answers with kappa 0.6 its lower bound is
near 0), so the gate would fail every judge; it says it could not decide instead."""


class LevelPair(NamedTuple):
    """The judge's level and a person's level (1-5) of one criterion of one answer."""

    judge: int
    human: int
    unit: str = ""  # the answer (its hash): pairs of one unit are resampled together


class PassPair(NamedTuple):
    """The judge's pass/fail and a person's of one answer (or one criterion of it)."""

    judge: bool
    human: bool
    unit: str = ""


@dataclass(frozen=True)
class Estimate:
    """One figure with its bootstrap interval; None where it cannot be had, with why."""

    value: float | None
    low: float | None = None
    high: float | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """`{"value", "low", "high", "reason"}`, rounded to 4 decimals."""
        return {
            "value": _round(self.value),
            "low": _round(self.low),
            "high": _round(self.high),
            "reason": self.reason,
        }

    def describe(self, signed: bool = False) -> str:
        """`0.62 [0.41, 0.80]`, `0.62` without an interval, or `- (why)`."""
        if self.value is None:
            return f"- ({self.reason})" if self.reason else "-"
        fmt = "{:+.2f}" if signed else "{:.2f}"
        text = fmt.format(self.value)
        if self.low is not None and self.high is not None:
            text += f" [{fmt.format(self.low)}, {fmt.format(self.high)}]"
        return text


@dataclass(frozen=True)
class Agreement:
    """The judge against people on one criterion (or `overall`)."""

    criterion: str
    n: int  # level pairs
    answers: int  # labelled answers among them (the bootstrap's units)
    exact: Estimate
    kappa: Estimate
    alpha: Estimate
    bias: Estimate  # the judge's mean level minus the people's
    confusion: list[list[int]]  # rows: the judge's level 1-5; columns: the person's
    pass_n: int
    pass_agreement: Estimate
    pass_kappa: Estimate
    pass_confusion: list[list[int]]  # rows: judge fail, pass; columns: person fail, pass
    level: float = CONFIDENCE
    human_mean: float | None = None
    judge_mean: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: `n`, `exact`, `kappa`, `alpha`, `pass_kappa`, `bias`, `confusion`..."""
        return {
            "criterion": self.criterion,
            "n": self.n,
            "answers": self.answers,
            "exact": _round(self.exact.value),
            "kappa": _round(self.kappa.value),
            "alpha": _round(self.alpha.value),
            "bias": _round(self.bias.value),
            "pass_n": self.pass_n,
            "pass_agreement": _round(self.pass_agreement.value),
            "pass_kappa": _round(self.pass_kappa.value),
            "confusion": self.confusion,
            "pass_confusion": self.pass_confusion,
            "intervals": {
                "level": self.level,
                **{
                    name: getattr(self, name).as_dict()
                    for name in ("exact", "kappa", "alpha", "bias", "pass_agreement", "pass_kappa")
                },
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def judge_level(score: float | None) -> int | None:
    """The judge's level 1-5 of a score: level L scores (L - 1) / 4, so round(1 + 4 * score).

    Also the `overall` level of an answer from its overall score (a mean of criteria, so it
    lands between levels: 0.6 is level 3, 0.65 level 4; halves round up).
    """
    if score is None or not math.isfinite(score):
        return None
    return min(5, max(1, math.floor(1 + 4 * float(score) + 0.5)))


def agreement(
    criterion: str,
    levels: Sequence[LevelPair],
    passes: Sequence[PassPair] = (),
    *,
    seed: int = BOOTSTRAP_SEED,
    level: float = CONFIDENCE,
    resamples: int = AGREEMENT_RESAMPLES,
) -> Agreement:
    """Every agreement figure of one criterion from its level and pass/fail pairs."""
    level_stats = _level_stats(levels, seed, level, resamples)
    pass_stats = _pass_stats(passes, seed, level, resamples)
    return Agreement(criterion=criterion, level=level, **level_stats, **pass_stats)


def _units(units: Sequence[str]) -> tuple[list[int], int]:
    """Each pair's unit index (a blank unit is a unit of its own) and the number of units."""
    index: dict[str, int] = {}
    out = []
    for i, unit in enumerate(units):
        key = unit or f"\0{i}"
        out.append(index.setdefault(key, len(index)))
    return out, len(index)


def _draws(n_units: int, seed: int, resamples: int) -> Any:
    """Replicates x units: how often each unit is drawn in each replicate (seeded)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=resamples)


def _interval(
    value: float | None, replicates: Any, level: float, reason: str | None = None
) -> Estimate:
    """The estimate with the percentile interval of its finite replicates."""
    import numpy as np

    if value is None:
        return Estimate(None, reason=reason)
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return Estimate(value, reason="no resample defines it")
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return Estimate(value, float(low), float(high))


def _kappa_of_tables(tables: Any, weights: Any) -> Any:
    """Cohen's kappa of each confusion table (replicates x K x K), scikit-learn's formula."""
    import numpy as np

    total = tables.sum(axis=(1, 2))
    expected = np.einsum("bi,bj->bij", tables.sum(axis=2), tables.sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = expected / total[:, None, None]
        observed = (tables * weights).sum(axis=(1, 2))
        chance = (expected * weights).sum(axis=(1, 2))
        return np.where(chance > 1e-12, 1 - observed / np.where(chance > 0, chance, 1), np.nan)


def _library_kappa(judge: Sequence[Any], human: Sequence[Any], **options: Any) -> float | None:
    """scikit-learn's Cohen's kappa; None where it is 0/0 (one category on both sides)."""
    with long_lived_imports():
        from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(cohen_kappa_score(judge, human, **options))
    return value if math.isfinite(value) else None


def _alpha(value_counts: Any) -> float:
    """Krippendorff's ordinal alpha of units x levels counts (nan where undefined)."""
    import krippendorff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(
                krippendorff.alpha(
                    value_counts=value_counts,
                    level_of_measurement="ordinal",
                    value_domain=list(LEVELS),
                )
            )
        except (ValueError, ZeroDivisionError):
            return math.nan


def _level_stats(
    pairs: Sequence[LevelPair], seed: int, level: float, resamples: int
) -> dict[str, Any]:
    """n, exact, kappa, alpha, bias and the confusion matrix of level pairs."""
    n = len(pairs)
    confusion = [[0] * 5 for _ in LEVELS]
    for p in pairs:
        confusion[p.judge - 1][p.human - 1] += 1
    unit_of, n_units = _units([p.unit for p in pairs])
    base: dict[str, Any] = {"n": n, "answers": n_units, "confusion": confusion}
    if n < 2:
        why = "no labelled answer" if n == 0 else "one labelled answer"
        none = Estimate(None, reason=why)
        return {**base, "exact": none, "kappa": none, "alpha": none, "bias": none}
    import numpy as np

    judge = [p.judge for p in pairs]
    human = [p.human for p in pairs]
    base["judge_mean"] = float(np.mean(judge))
    base["human_mean"] = float(np.mean(human))
    exact = float(np.mean([j == h for j, h in zip(judge, human, strict=True)]))
    bias = base["judge_mean"] - base["human_mean"]
    kappa = _library_kappa(judge, human, weights="quadratic", labels=list(LEVELS))
    counts = np.zeros((n, 5), dtype=int)
    counts[np.arange(n), np.asarray(judge) - 1] += 1
    counts[np.arange(n), np.asarray(human) - 1] += 1
    alpha_value = _alpha(counts)
    alpha = alpha_value if math.isfinite(alpha_value) else None
    single = "judge and people gave one level only" if len(set(judge) | set(human)) == 1 else None
    undefined = single or "no variation to measure agreement on"

    # Replicates: unit draws (replicates x units) times each unit's cells -> confusion tables.
    draws = _draws(n_units, seed, resamples)
    units = np.asarray(unit_of)
    cells = (np.asarray(judge) - 1) * 5 + (np.asarray(human) - 1)
    per_unit = np.zeros((n_units, 25))
    np.add.at(per_unit, (units, cells), 1)
    tables = (draws @ per_unit).reshape(resamples, 5, 5)
    grid = np.arange(5)
    diff = grid[:, None] - grid[None, :]
    totals = tables.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        exact_reps = np.trace(tables, axis1=1, axis2=2) / totals
        bias_reps = (tables * diff).sum(axis=(1, 2)) / totals
    kappa_reps = _kappa_of_tables(tables, (diff**2).astype(float))
    alpha_reps = np.array([_alpha(np.repeat(counts, row[units], axis=0)) for row in draws])
    return {
        **base,
        "exact": _interval(exact, exact_reps, level),
        "bias": _interval(bias, bias_reps, level),
        "kappa": _interval(kappa, kappa_reps, level, undefined),
        "alpha": _interval(alpha, alpha_reps, level, undefined),
    }


def _pass_stats(
    pairs: Sequence[PassPair], seed: int, level: float, resamples: int
) -> dict[str, Any]:
    """Pass/fail agreement, its Cohen's kappa (unweighted) and its confusion matrix."""
    n = len(pairs)
    confusion = [[0, 0], [0, 0]]
    for p in pairs:
        confusion[int(p.judge)][int(p.human)] += 1
    base: dict[str, Any] = {"pass_n": n, "pass_confusion": confusion}
    if n < 2:
        none = Estimate(None, reason="no pass/fail label" if n == 0 else "one pass/fail label")
        return {**base, "pass_agreement": none, "pass_kappa": none}
    import numpy as np

    judge = [int(p.judge) for p in pairs]
    human = [int(p.human) for p in pairs]
    agree = float(np.mean([j == h for j, h in zip(judge, human, strict=True)]))
    kappa = _library_kappa(judge, human, labels=[0, 1])
    unit_of, n_units = _units([p.unit for p in pairs])
    per_unit = np.zeros((n_units, 4))
    np.add.at(per_unit, (np.asarray(unit_of), np.asarray(judge) * 2 + np.asarray(human)), 1)
    tables = (_draws(n_units, seed, resamples) @ per_unit).reshape(resamples, 2, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        agree_reps = np.trace(tables, axis1=1, axis2=2) / tables.sum(axis=(1, 2))
    kappa_reps = _kappa_of_tables(tables, 1.0 - np.eye(2))
    why = "judge and people gave one verdict only" if len(set(judge) | set(human)) == 1 else None
    return {
        **base,
        "pass_agreement": _interval(agree, agree_reps, level),
        "pass_kappa": _interval(kappa, kappa_reps, level, why or "no variation"),
    }
