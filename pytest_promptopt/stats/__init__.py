"""The statistics package: every interval and every paired decision of the plugin.

Low in the layers so that every layer above may use it; importing it costs nothing (numpy and
scipy are imported inside the functions that need them). `intervals`: the Wilson interval, the
one bootstrap, the paired t interval and McNemar's test under the table of decision rules;
`compare`: run comparisons (baseline, variants) with their verdict, power and categories;
`clusters`: the clustered paired tests comparisons use when cases share a cluster;
`agreement`: the judge against people's labels (kappa, alpha, exact agreement, bias).
`pairwise`: the same verdicts from a pairwise judge's wins, losses and ties (a sign test).
"""

from pytest_promptopt.stats.agreement import (
    MIN_AGREEMENT_LABELS,
    Agreement,
    Estimate,
    LevelPair,
    PassPair,
    agreement,
    judge_level,
)
from pytest_promptopt.stats.clusters import ClusterDesign, design_effect, sign_flip_p
from pytest_promptopt.stats.compare import (
    POWER,
    CategoryChange,
    PairedComparison,
    category_changes,
    compare_runs,
    min_detectable_change,
)
from pytest_promptopt.stats.intervals import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    COMPARISON_CONFIDENCE,
    CONFIDENCE,
    DEFAULT_MARGIN,
    OPTIMIZER_CONFIDENCE,
    RULES,
    SUMMARY_DRAWS,
    SUMMARY_MIN_RESAMPLES,
    CaseOutcome,
    ComparisonOutcome,
    Decision,
    DecisionRule,
    PairedGain,
    RunComparison,
    mcnemar_exact,
    mean_interval,
    paired_gain,
    wilson_interval,
)

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "COMPARISON_CONFIDENCE",
    "CONFIDENCE",
    "DEFAULT_MARGIN",
    "MIN_AGREEMENT_LABELS",
    "OPTIMIZER_CONFIDENCE",
    "POWER",
    "RULES",
    "SUMMARY_DRAWS",
    "SUMMARY_MIN_RESAMPLES",
    "Agreement",
    "CaseOutcome",
    "CategoryChange",
    "ClusterDesign",
    "ComparisonOutcome",
    "Decision",
    "DecisionRule",
    "Estimate",
    "LevelPair",
    "PairedComparison",
    "PairedGain",
    "PassPair",
    "RunComparison",
    "agreement",
    "category_changes",
    "compare_runs",
    "design_effect",
    "judge_level",
    "mcnemar_exact",
    "mean_interval",
    "min_detectable_change",
    "paired_gain",
    "sign_flip_p",
    "wilson_interval",
]
