"""The shard split of `--promptopt-shard I/N`: every case in one shard, the same everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pytest_promptopt.errors import ConfigError
from pytest_promptopt.settings.kinds import Shard
from pytest_promptopt.suites.shard import shard_of

KEYS = [(f"suite{s}", f"case-{c}") for s in range(5) for c in range(200)]


@pytest.mark.parametrize("total", [1, 2, 3, 7])
def test_every_case_falls_in_exactly_one_shard(total: int) -> None:
    shards = {key: shard_of(*key, total) for key in KEYS}
    assert set(shards.values()) <= set(range(1, total + 1))
    # Each key picks one shard; selecting each shard in turn covers every key once.
    chosen = Counter(key for i in range(1, total + 1) for key in KEYS if shard_of(*key, total) == i)
    assert set(chosen) == set(KEYS)
    assert set(chosen.values()) == {1}


def test_the_split_is_roughly_even() -> None:
    sizes = Counter(shard_of(*key, 3) for key in KEYS)
    assert all(abs(n - len(KEYS) / 3) < 0.1 * len(KEYS) for n in sizes.values()), sizes


def test_the_split_is_the_same_in_another_process_with_another_hash_seed() -> None:
    code = (
        "from pytest_promptopt.suites.shard import shard_of\n"
        "print(','.join(str(shard_of(f'suite{s}', f'case-{c}', 3)) "
        "for s in range(5) for c in range(200)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out.split(",") == [str(shard_of(*key, 3)) for key in KEYS]


def test_the_suite_name_is_part_of_the_key() -> None:
    moved = sum(shard_of("a", f"c{i}", 4) != shard_of("b", f"c{i}", 4) for i in range(400))
    assert moved > 200  # the same case keys in another suite are split independently


@pytest.mark.parametrize("value", ["1/3", "3/3", " 2/5 ", "1/1"])
def test_shard_values_parse(value: str) -> None:
    index, total = Shard().parse("--promptopt-shard", value, Path())
    assert f"{index}/{total}" == value.strip()


@pytest.mark.parametrize("value", ["0/3", "4/3", "x", "1/0", "1", "-1/3", "1/3/4", "a/b"])
def test_bad_shard_values_are_refused_with_the_form_they_take(value: str) -> None:
    with pytest.raises(ConfigError, match=r"--promptopt-shard must be I/N with 1 <= I <= N"):
        Shard().parse("--promptopt-shard", value, Path())
