"""Budget caps hold for the whole session, however many xdist workers share it."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.support.plugin import SIM_INI
from tests.support.scaleout import judged_suite


@pytest.mark.parametrize("workers", ["0", "2"])
def test_max_calls_is_one_cap_for_all_workers(pytester: pytest.Pytester, workers: str) -> None:
    pytester.makeini(SIM_INI)
    pytester.makefile(".promptopt.yaml", capped=judged_suite("capped", 16))
    db = pytester.path / "capped.db"
    result = pytester.runpytest_subprocess(
        "-n", workers, "-rA", f"--promptopt-db=sqlite:///{db}", "--promptopt-max-calls=11",
        "--promptopt-concurrency=2", timeout=120,
    )  # fmt: skip
    con = sqlite3.connect(db)
    made = con.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0]
    finished = con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    ledger = con.execute("SELECT calls FROM budget_ledgers").fetchall()
    con.close()
    assert made == 11 and ledger == [(11,)]  # exactly the cap, not the cap per worker
    if workers == "0":
        # Calls take the budget in case order, so the cap leaves finished cases (2 calls each;
        # 5 at most), not 11 answers whose judge calls were all refused.
        assert finished >= 4
    out = result.stdout.str()
    assert "call cap reached" in out and "all workers" in out
    errors = len(re.findall(r"^ERROR ", out, flags=re.MULTILINE))
    assert errors >= 16 - 11 // 2  # cases left without a call error out, naming the cap
