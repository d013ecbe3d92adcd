"""The shared per-case record: its trip through user_properties, named by its own fields."""

from __future__ import annotations

from pytest_promptopt.records import PREFIX, RECORD_KEY
from pytest_promptopt.records.case import PROPERTY_NAMES, CaseRecord
from pytest_promptopt.suites.criteria import RESERVED_NAMES
from tests.support.records import make_record


def test_properties_round_trip_keeps_every_field() -> None:
    record = make_record("a", 0.75, passed=True)
    assert CaseRecord.from_properties(record.to_properties()) == [record]


def test_several_records_and_foreign_properties_in_one_report() -> None:
    first, second = (
        make_record("a", 0.9, passed=True),
        make_record("b", 0.1, passed=False, error="boom"),
    )
    props = [("user_key", 1), *first.to_properties(), ("other", "x"), *second.to_properties()]
    assert CaseRecord.from_properties(props) == [first, second]
    assert CaseRecord.from_properties([("user_key", 1)]) == []


def test_the_plugin_reads_the_json_record_not_the_flat_view() -> None:
    record = make_record("a", 0.5, passed=False)
    flat = record.flat_properties()
    assert CaseRecord.from_properties(flat) == []  # a JUnit reader's view, not the carrier
    assert CaseRecord.from_properties([(RECORD_KEY, record.model_dump_json())]) == [record]


def test_criteria_travel_under_their_own_names() -> None:
    props = dict(make_record("a", 0.5, passed=False).to_properties())
    assert props["promptopt_functionality"] == 0.8
    assert props["promptopt_tone"] == 0.5
    assert props["promptopt_error"] == ""  # JUnit has no None: an empty string, read back as None


def test_every_field_set_travels_under_a_reserved_property_name() -> None:
    full = make_record("a", 0.5, passed=False, error="boom").model_copy(
        update={"min_pass_rate": 0.8, "min_judge_agreement": 0.6, "variant": "v2"}
        | {"variant_rank": 1, "reason": "low"}
        | {"flaky": True, "sample": 2, "judge_spread": 0.1, "judge_flipped": True, "refusals": 1}
        | {"cluster": "doc-1"}
        | {"comparison": "pairwise"}
    )
    props = full.to_properties()
    assert props[:2] == [(RECORD_KEY, full.model_dump_json()), ("promptopt_suite", "s")]
    own = {key.removeprefix(PREFIX) for key, _ in props} - set(full.criteria)
    assert own == PROPERTY_NAMES  # every field but the criteria has its own property
    assert CaseRecord.from_properties(props) == [full]
    # A criterion may take none of those names (nor the verdict's `reasoning`).
    assert PROPERTY_NAMES | {"reasoning"} == RESERVED_NAMES
