"""PipelineClaimRepository: the first claim wins, heartbeats, takeovers and the release."""

from __future__ import annotations

from pytest_promptopt.storage import Database, transaction
from pytest_promptopt.storage.repositories import CLAIM_STAGE, Claim
from pytest_promptopt.storage.repositories.claims import ClaimSummary


def test_the_first_claim_wins_per_suite(db: Database, seeded: tuple[int, int, int]) -> None:
    run_id, _, _ = seeded
    with transaction(db) as repos:
        assert repos.pipeline_claims.owner(run_id, "bot") is None
        assert repos.pipeline_claims.claim(run_id, "bot", "gw0", 100.0)
    with transaction(db) as repos:
        assert not repos.pipeline_claims.claim(run_id, "bot", "gw1", 200.0)
        assert repos.pipeline_claims.claim(run_id, "other", "gw1", 200.0)
        owner = repos.pipeline_claims.owner(run_id, "bot")
        assert owner is not None
        assert (owner.status, owner.worker, owner.summary.heartbeat) == ("running", "gw0", 100.0)
        # The claim is a stage row of its own, which the pipeline's stages never reuse.
        row = repos.stage_results.get(run_id, "bot", CLAIM_STAGE)
        assert row is not None and row.id == owner.id


def test_beat_renews_a_running_claim_only(db: Database, seeded: tuple[int, int, int]) -> None:
    run_id, _, _ = seeded
    with transaction(db) as repos:
        repos.pipeline_claims.claim(run_id, "bot", "gw0", 1.0)
        claim = repos.pipeline_claims.owner(run_id, "bot")
        assert claim is not None
        assert repos.pipeline_claims.beat(claim.id, "gw0", 5.0)
    with transaction(db) as repos:
        assert repos.pipeline_claims.owner(run_id, "bot") == Claim(
            claim.id, "running", ClaimSummary(worker="gw0", heartbeat=5.0)
        )
        repos.pipeline_claims.release(run_id, "bot", "gw0", None)
    with transaction(db) as repos:
        assert not repos.pipeline_claims.beat(claim.id, "gw0", 9.0)
        assert not repos.pipeline_claims.beat(424242, "gw0", 9.0)
        owner = repos.pipeline_claims.owner(run_id, "bot")
        assert owner is not None and owner.status == "failed"
        assert "heartbeat" not in owner.summary.to_json()


def test_take_over_moves_a_running_claim_and_not_a_finished_one(
    db: Database, seeded: tuple[int, int, int]
) -> None:
    run_id, _, _ = seeded
    with transaction(db) as repos:
        repos.pipeline_claims.claim(run_id, "bot", "gw0", 1.0)
        repos.pipeline_claims.claim(run_id, "done", "gw0", 1.0)
        repos.pipeline_claims.release(run_id, "done", "gw0", 7)
        running = repos.pipeline_claims.owner(run_id, "bot")
        finished = repos.pipeline_claims.owner(run_id, "done")
        assert running is not None and finished is not None
    with transaction(db) as repos:
        assert repos.pipeline_claims.take_over(running, "gw1", 50.0)
        assert not repos.pipeline_claims.take_over(finished, "gw1", 50.0)
        gone = Claim(424242, "running", ClaimSummary(worker="gw0"))
        assert not repos.pipeline_claims.take_over(gone, "gw1", 50.0)
    with transaction(db) as repos:
        taken = repos.pipeline_claims.owner(run_id, "bot")
        assert taken == Claim(
            running.id, "running", ClaimSummary(worker="gw1", heartbeat=50.0), running.version + 1
        )
        kept = repos.pipeline_claims.owner(run_id, "done")
        assert kept is not None and kept.summary.to_json() == {"worker": "gw0", "best_prompt_id": 7}


def test_release_records_the_outcome_for_the_waiters(
    db: Database, seeded: tuple[int, int, int]
) -> None:
    run_id, prompt_id, _ = seeded
    with transaction(db) as repos:
        repos.pipeline_claims.release(run_id, "unclaimed", "gw0", prompt_id)  # nothing to end
        repos.pipeline_claims.claim(run_id, "bot", "gw0", 1.0)
        repos.pipeline_claims.release(run_id, "bot", "gw0", prompt_id)
    with transaction(db) as repos:
        assert repos.pipeline_claims.owner(run_id, "unclaimed") is None
        owner = repos.pipeline_claims.owner(run_id, "bot")
        assert owner is not None and owner.status == "completed"
        assert owner.summary.to_json() == {"worker": "gw0", "best_prompt_id": prompt_id}
        row = repos.stage_results.get(run_id, "bot", CLAIM_STAGE)
        assert row is not None and row.finished_at is not None


def test_of_two_waiters_that_read_a_stale_claim_only_one_takes_it(
    db: Database, seeded: tuple[int, int, int]
) -> None:
    """Both read the claim before either took it: the version lets only the first win."""
    run_id, _, _ = seeded
    with transaction(db) as repos:
        repos.pipeline_claims.claim(run_id, "bot", "gw0", 1.0)
    with transaction(db) as repos:
        seen_by_gw1 = repos.pipeline_claims.owner(run_id, "bot")
    with transaction(db) as repos:
        seen_by_gw2 = repos.pipeline_claims.owner(run_id, "bot")
    assert seen_by_gw1 is not None and seen_by_gw2 is not None
    with transaction(db) as repos:
        assert repos.pipeline_claims.take_over(seen_by_gw1, "gw1", 50.0)
    with transaction(db) as repos:
        assert not repos.pipeline_claims.take_over(seen_by_gw2, "gw2", 51.0)
        # the dead owner, waking up, cannot renew a claim it no longer holds
        assert not repos.pipeline_claims.beat(seen_by_gw1.id, "gw0", 52.0)
    with transaction(db) as repos:
        assert repos.pipeline_claims.owner(run_id, "bot").worker == "gw1"  # type: ignore[union-attr]
