"""--promptopt-apply: the best prompt is written only when proven and in a file; what it did."""

from __future__ import annotations

from pathlib import Path

from pytest_promptopt.optimize.apply import apply_best
from pytest_promptopt.optimize.outcome import OptimizeOutcome
from pytest_promptopt.suites.spec import Case, Suite


def suite_in(prompt_file: Path | None) -> Suite:
    """A one-case suite, its prompt in `prompt_file` (inline without one)."""
    if prompt_file is not None:
        prompt_file.write_text("Be brief.\n", encoding="utf-8")
    return Suite(
        name="bot",
        prompt="Be brief.",
        prompt_path=str(prompt_file) if prompt_file is not None else None,
        cases=[Case(id="a", input="hi")],
    )


def outcome(**fields: object) -> OptimizeOutcome:
    """A proven outcome: prompt #7 beats the original #1 on the held-out cases."""
    values: dict[str, object] = {
        "suite": "bot",
        "run_id": 1,
        "original_prompt_id": 1,
        "best_prompt_id": 7,
        "best_prompt_text": "Be brief and kind.",
        "gate_significant": True,
        "gate_verdict": "paired gain +0.200 [+0.100, +0.300]",
        "gate_gain": [0.1, 0.2, 0.3],
        "original_holdout": 0.5,
        "best_holdout": 0.7,
    }
    values.update(fields)
    return OptimizeOutcome(**values)  # type: ignore[arg-type]


def test_a_proven_prompt_is_written_with_a_final_newline_and_its_figures(tmp_path: Path) -> None:
    prompt_file = tmp_path / "prompt.txt"
    result = outcome()
    message = apply_best(suite_in(prompt_file), result)
    assert message == (
        f"applied: wrote the best prompt #7 to {prompt_file} (paired gain +0.200 [+0.100, +0.300])"
    )
    assert prompt_file.read_text(encoding="utf-8") == "Be brief and kind.\n"
    assert result.applied_to == prompt_file and result.apply is not None
    applied = result.apply
    assert (applied.applied, applied.file, applied.prompt_id) == (True, str(prompt_file), 7)
    assert (applied.before, applied.after, applied.measured_on) == (0.5, 0.7, "held-out")
    assert (applied.gain, applied.interval) == (0.2, (0.1, 0.3))


def test_the_confirmation_means_are_the_figures_when_there_are_confirmation_cases(
    tmp_path: Path,
) -> None:
    result = outcome(confirm_cases=4, original_confirm=0.4, winner_confirm=0.9)
    apply_best(suite_in(tmp_path / "prompt.txt"), result)
    assert result.apply is not None
    assert (result.apply.before, result.apply.after) == (0.4, 0.9)
    assert result.apply.measured_on == "confirmation"


def test_one_held_out_case_gives_a_gain_but_no_interval(tmp_path: Path) -> None:
    result = outcome(gate_gain=[0.2, 0.2, 0.2])
    apply_best(suite_in(tmp_path / "prompt.txt"), result)
    assert result.apply is not None and (result.apply.gain, result.apply.interval) == (0.2, None)


def test_the_original_or_an_unproven_prompt_is_not_written_and_says_why(tmp_path: Path) -> None:
    prompt_file = tmp_path / "prompt.txt"
    kept = outcome(best_prompt_id=1, decision="kept the original: no gain")
    assert apply_best(suite_in(prompt_file), kept) == (
        "not applied to bot: kept the original: no gain"
    )
    unproven = outcome(gate_significant=False, decision="", gate_verdict="")
    assert apply_best(suite_in(prompt_file), unproven) == "not applied to bot: no significant gain"
    assert prompt_file.read_text(encoding="utf-8") == "Be brief.\n"
    for result in (kept, unproven):
        assert result.applied_to is None and result.apply is not None
        assert not result.apply.applied and result.apply.file is None
    assert kept.apply is not None and kept.apply.reason == "kept the original: no gain"


def test_an_inline_prompt_is_not_applied(tmp_path: Path) -> None:
    result = outcome()
    assert apply_best(suite_in(None), result) == (
        "not applied to bot: its prompt is inline, not in a file"
    )
    assert result.apply is not None and result.apply.reason == "its prompt is inline, not in a file"
