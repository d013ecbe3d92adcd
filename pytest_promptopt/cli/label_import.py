"""`promptopt label import`: a label file's rows matched to stored answers, then written at once.

A `case` names the case's evaluation with sample 0 in the run (the line's `run`, else --run,
else the newest), of the prompt the run's items judged (under --optimize: the chosen prompt);
an `evaluation` names one evaluation by id. Every row is resolved before anything is written;
one bad row and nothing is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_promptopt.cli.label_file import LabelFileError, LabelRow, listing

if TYPE_CHECKING:
    from pytest_promptopt.storage import Evaluation, Repositories
    from pytest_promptopt.storage.repositories import LabelInput, LabelTarget

MAX_KEYS_LISTED = 5


@dataclass(frozen=True)
class Defaults:
    """What a row leaves out: its run, suite and labeller."""

    run: str = "latest"
    suite: str | None = None
    labeller: str = "anonymous"


@dataclass(frozen=True)
class Written:
    """What an import wrote: labels new and labels that replaced an earlier one."""

    new: int
    replaced: int


class _Problem(Exception):
    """One row's fault: the field and the message with its fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Runs:
    """Each run's answers by (suite, case key), sample 0, looked up once per run."""

    def __init__(self, repos: Repositories) -> None:
        self.repos = repos
        self._by_run: dict[int, dict[tuple[str, str], LabelTarget]] = {}
        self._ids: dict[str, int] = {}

    def run_id(self, ref: str) -> int:
        """The id of the run named by an id or `latest`."""
        if ref not in self._ids:
            run = self.repos.runs.latest() if ref == "latest" else self.repos.runs.get(int(ref))
            if run is None and ref == "latest":
                raise _Problem("run", "the database holds no runs yet; run the suites first")
            if run is None:
                raise _Problem("run", f"no run {ref} in the database; see `promptopt runs`")
            self._ids[ref] = run.id
        return self._ids[ref]

    def cases(self, run_id: int) -> dict[tuple[str, str], LabelTarget]:
        """(suite, case key) -> the answer with sample 0 of the run's judged prompt."""
        if run_id not in self._by_run:
            from pytest_promptopt.reporting.baseline import judged_results

            prompts = {info["prompt_id"] for info in judged_results(self.repos, run_id).values()}
            targets = self.repos.labels.targets(run_id, prompt_ids=prompts, judged_only=False)
            self._by_run[run_id] = {
                (t.case.suite, t.case.case_key): t for t in targets if t.evaluation.sample == 0
            }
        return self._by_run[run_id]


def import_rows(
    repos: Repositories,
    path: Path,
    rows: list[LabelRow],
    given: Defaults,
    problems: list[tuple[int, str]],
) -> Written:
    """Resolve every row, then write them all; a LabelFileError lists every bad line (those
    found reading the file, `problems`, with those found here)."""
    from pytest_promptopt.storage.repositories import (
        OVERALL,
        LabelInput,
        evaluation_answer_hash,
        judged_criteria,
    )

    runs = _Runs(repos)
    resolved: list[tuple[Evaluation, LabelInput, str]] = []
    problems = list(problems)
    first_line: dict[tuple[str, str, str], int] = {}
    for row in rows:
        try:
            evaluation = _evaluation(repos, runs, row, given)
            criterion = row.criterion or OVERALL
            known = [OVERALL, *judged_criteria(evaluation)]
            if criterion not in known:
                raise _Problem(
                    "criterion",
                    f"{criterion!r} was not judged on this answer; its criteria: "
                    f"{', '.join(known)}",
                )
            labeller = row.labeller or given.labeller
            digest = evaluation_answer_hash(evaluation, evaluation.test_case)
            key = (digest, criterion, labeller)
            if key in first_line:
                raise _Problem(
                    "criterion",
                    f"line {first_line[key]} labels the same answer and criterion for labeller "
                    f"{labeller!r}; keep one of the two lines",
                )
            first_line[key] = row.line
            label = LabelInput(criterion, row.level, row.passed, labeller, row.note)
            resolved.append((evaluation, label, digest))
        except _Problem as bad:
            problems.append((row.line, f"field {bad.field}: {bad}"))
    if problems:
        raise LabelFileError(listing(path, problems))
    existing = {
        (label.answer_hash, label.criterion, label.labeller)
        for label in repos.labels.for_hashes([digest for _, _, digest in resolved])
    }
    replaced = 0
    for evaluation, label, digest in resolved:
        replaced += (digest, label.criterion, label.labeller) in existing
        repos.labels.put(evaluation, label)
    return Written(new=len(resolved) - replaced, replaced=replaced)


def _evaluation(repos: Repositories, runs: _Runs, row: LabelRow, given: Defaults) -> Evaluation:
    """The evaluation a row names, by id or by case key in its run."""
    if row.evaluation is not None:
        found = repos.evaluations.get(row.evaluation)
        if found is None:
            raise _Problem(
                "evaluation",
                f"no evaluation {row.evaluation}; `promptopt label` shows each answer's id",
            )
        return found
    assert row.case is not None
    run_id = runs.run_id(row.run or given.run)
    cases = runs.cases(run_id)
    suite = row.suite or given.suite
    matches = [t for (s, key), t in cases.items() if key == row.case and suite in (None, s)]
    if not matches:
        where = f"suite {suite!r} of run {run_id}" if suite else f"run {run_id}"
        keys = sorted({key for s, key in cases if suite in (None, s)})
        shown = ", ".join(keys[:MAX_KEYS_LISTED]) + (", ..." if len(keys) > MAX_KEYS_LISTED else "")
        raise _Problem(
            "case",
            f"no answer to case {row.case!r} in {where} (its cases: {shown or 'none'}); "
            "check the key, or name the run with a `run` column or --run",
        )
    if len(matches) > 1:
        suites = ", ".join(sorted(t.case.suite for t in matches))
        raise _Problem(
            "case",
            f"case {row.case!r} is in suites {suites} of run {run_id}; "
            "add a `suite` column or pass --suite",
        )
    return matches[0].evaluation
