"""ORM models: the public tables users query with SQL (see PRODUCT.md, section Storage)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES: tuple[str, ...] = ("running", "passed", "failed", "interrupted", "abandoned")
RUN_MODES: tuple[str, ...] = ("test", "optimize")
PROMPT_STAGES: tuple[str, ...] = ("given", "initial", "refined")
CASE_STAGES: tuple[str, ...] = ("given", "quick", "rigorous")
STAGE_STATUSES: tuple[str, ...] = ("running", "completed", "failed", "skipped", "budget_exhausted")
LLM_ROLES: tuple[str, ...] = ("target", "judge", "generate", "analyze", "user")


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def _empty_dict() -> dict[str, Any]:
    return {}


def _empty_list() -> list[Any]:
    return []


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that always hands back aware UTC datetimes, also on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store naive values as UTC and aware ones converted to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to the naive values SQLite returns."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base whose metadata names constraints stably for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OptimizationRun(Base):
    """One pytest session (xdist workers share it through `session_uid`)."""

    __tablename__ = "optimization_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_uid: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="running")
    mode: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=_empty_dict)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What the run itself used, added to by each of its processes (NULL: recorded before
    # these columns); `cost_usd` sums the priced calls, `unpriced_calls` counts the others.
    calls: Mapped[int | None] = mapped_column(Integer)
    cache_hits: Mapped[int | None] = mapped_column(Integer)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    unpriced_calls: Mapped[int | None] = mapped_column(Integer)
    # The owning process's last sign of life, renewed while the run runs (see RunRepository).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    # Bumped by every claim of the run (a resume, marking it abandoned): compare-and-set.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    name: Mapped[str | None] = mapped_column(String(255), index=True, unique=True)  # run name

    prompts: Mapped[list[Prompt]] = relationship(back_populates="run", passive_deletes=True)
    test_cases: Mapped[list[TestCase]] = relationship(back_populates="run", passive_deletes=True)
    stage_results: Mapped[list[StageResult]] = relationship(
        back_populates="run", passive_deletes=True
    )


class Prompt(Base):
    """A prompt text judged in a run; unique per (run, suite, text hash)."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("run_id", "suite", "prompt_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimization_runs.id", ondelete="CASCADE"))
    suite: Mapped[str] = mapped_column(String(255))
    prompt_text: Mapped[str] = mapped_column(Text)
    prompt_hash: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str | None] = mapped_column(String(64))
    parent_prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="SET NULL")
    )
    track_id: Mapped[int | None] = mapped_column(Integer)
    iteration: Mapped[int] = mapped_column(Integer, default=0)
    is_original_system_prompt: Mapped[bool] = mapped_column(Boolean, default=False)
    quick_score: Mapped[float | None] = mapped_column(Float)
    rigorous_score: Mapped[float | None] = mapped_column(Float)
    average_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    run: Mapped[OptimizationRun] = relationship(back_populates="prompts")
    parent: Mapped[Prompt | None] = relationship(remote_side=[id])


class TestCase(Base):
    """A test case, given in a suite file or generated for the quick/rigorous stages."""

    __tablename__ = "test_cases"
    __table_args__ = (UniqueConstraint("run_id", "suite", "case_key"),)
    __test__ = False  # not a pytest test class despite the name

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimization_runs.id", ondelete="CASCADE"))
    suite: Mapped[str] = mapped_column(String(255))
    case_key: Mapped[str] = mapped_column(String(255))
    input_message: Mapped[str] = mapped_column(Text)
    expected_behavior: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(128), default="general")
    stage: Mapped[str] = mapped_column(String(16), default="given")
    # A given case's optimize split: `feedback` (writers see it), `holdout` or `confirm` (never).
    split: Mapped[str | None] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=_empty_dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    run: Mapped[OptimizationRun] = relationship(back_populates="test_cases")


class Evaluation(Base):
    """One evaluated sample of a prompt on a test case (judged, asserted or both)."""

    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("prompt_id", "test_case_id", "sample"),
        Index("ix_evaluations_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimization_runs.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    test_case_id: Mapped[int] = mapped_column(ForeignKey("test_cases.id", ondelete="CASCADE"))
    sample: Mapped[int] = mapped_column(Integer, default=0)
    model_response: Mapped[str] = mapped_column(Text)
    functionality: Mapped[float | None] = mapped_column(Float)
    safety: Mapped[float | None] = mapped_column(Float)
    consistency: Mapped[float | None] = mapped_column(Float)
    edge_case_handling: Mapped[float | None] = mapped_column(Float)
    # Every judged criterion's score by name (the built-ins above too; NULL: not judged).
    scores: Mapped[dict[str, float | None] | None] = mapped_column(JSON(none_as_null=True))
    overall_score: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    reasoning: Mapped[str | None] = mapped_column(Text)
    assertion_results: Mapped[list[Any]] = mapped_column(JSON, default=_empty_list)
    # The answer's tool calls ({id, name, input}; NULL: none) and the API's stop reason.
    tool_calls: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    trajectory: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))  # tool loop
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, default=0.0)  # NULL: no known price
    # Max minus min of the judge repeats' overall scores (NULL: judged once or not judged) and
    # the judge's version (NULL: not judged), so a change of judge shows in history.
    judge_spread: Mapped[float | None] = mapped_column(Float)
    judge_version: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    prompt: Mapped[Prompt] = relationship()
    test_case: Mapped[TestCase] = relationship()


class StageResult(Base):
    """One pipeline stage of one suite in a run; lets an interrupted run resume."""

    __tablename__ = "stage_results"
    __table_args__ = (UniqueConstraint("run_id", "suite", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimization_runs.id", ondelete="CASCADE"))
    suite: Mapped[str] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=_empty_dict)
    # Bumped by every change of a pipeline claim's holder: takeovers are compare-and-set.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    run: Mapped[OptimizationRun] = relationship(back_populates="stage_results")


class WeaknessAnalysis(Base):
    """The weaknesses found in one prompt during one refinement step."""

    __tablename__ = "weakness_analyses"
    __table_args__ = (UniqueConstraint("run_id", "prompt_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimization_runs.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    track_id: Mapped[int] = mapped_column(Integer)
    iteration: Mapped[int] = mapped_column(Integer)
    weaknesses: Mapped[list[Any]] = mapped_column(JSON)
    suggestions: Mapped[str] = mapped_column(Text)
    case_keys: Mapped[list[str]] = mapped_column(JSON, default=_empty_list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    prompt: Mapped[Prompt] = relationship()


class LLMCall(Base):
    """One model call, which is also the response cache entry for its request hash."""

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    # The sample index (in the key, never in the body; NULL: recorded before it was kept) and
    # the model the caller named when `simulated` answered instead (NULL: the same).
    sample: Mapped[int | None] = mapped_column(Integer)
    requested_model: Mapped[str | None] = mapped_column(String(128))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # Input tokens written to / read from the API's prompt cache (usage.cache_*_input_tokens).
    cache_write_tokens: Mapped[int | None] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int | None] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, default=0.0)  # NULL: no known price
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # A plain integer on purpose: cache entries outlive the run that recorded them.
    run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RateLimit(Base):
    """The concurrency limit one pytest session's xdist workers share (adapted to 429/529)."""

    __tablename__ = "rate_limits"

    session_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    ceiling: Mapped[int] = mapped_column(Integer)
    current: Mapped[int] = mapped_column(Integer)
    lowest: Mapped[int] = mapped_column(Integer)
    # Bumped by each decrease: a refusal of a call started before it does not decrease again.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    # Wall-clock seconds (epoch) before which no worker starts a new call (retry-after).
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)


class MessageBatch(Base):
    """A Message Batches API batch this database submitted, with the request hashes it holds.

    A run that was killed while waiting finds its batch here and collects it instead of sending
    the requests again; `status` is `submitted` until the results are collected.
    """

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    request_hashes: Mapped[list[str]] = mapped_column(JSON, default=_empty_list)
    # A plain integer, like `llm_calls.run_id`: the batch outlives the run that sent it.
    run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BudgetLedger(Base):
    """Calls and dollars spent by one pytest session, shared by its xdist workers (the caps)."""

    __tablename__ = "budget_ledgers"

    session_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0)
    reserved_usd: Mapped[float] = mapped_column(Float, default=0.0)


class Baseline(Base):
    """A suite's blessed run: `--promptopt-baseline` compares the suite with the newest one."""

    __tablename__ = "baselines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suite: Mapped[str] = mapped_column(String(255), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimization_runs.id", ondelete="CASCADE"))
    blessed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelCapability(Base):
    """What the Models API said a model supports, read once and kept so replays need no network.

    `capabilities` holds the plain fields the plugin reads (structured outputs, thinking types,
    effort levels, batch, image and PDF input); `source` says who answered (`api`).
    """

    __tablename__ = "model_capabilities"

    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), default="api")
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Label(Base):
    """A person's label of one judged answer: a level 1-5 or pass/fail, per criterion.

    It attaches to the answer, not the run: `answer_hash` hashes suite, case key and answer (text
    and tool calls), so the same answer judged in a later run meets the same label.
    `evaluation_id` is the evaluation labelled (NULL once its run is deleted). One label per
    answer, criterion and person; labelling again replaces it.
    """

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("answer_hash", "criterion", "labeller"),
        Index("ix_labels_suite_case", "suite", "case_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int | None] = mapped_column(
        ForeignKey("evaluations.id", ondelete="SET NULL")
    )
    suite: Mapped[str] = mapped_column(String(255))
    case_key: Mapped[str] = mapped_column(String(255))
    answer_hash: Mapped[str] = mapped_column(String(64), index=True)
    # A criterion's name, or `overall` for the answer as a whole.
    criterion: Mapped[str] = mapped_column(String(128), default="overall")
    level: Mapped[int | None] = mapped_column(Integer)  # 1-5; NULL: labelled pass/fail only
    passed: Mapped[bool | None] = mapped_column(Boolean)  # NULL: labelled by level only
    labeller: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RunShard(Base):
    """One shard (`--promptopt-shard I/N`) of a named run: its liveness, end and case records."""

    __tablename__ = "run_shards"
    __table_args__ = (UniqueConstraint("run_id", "shard"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimization_runs.id", ondelete="CASCADE"))
    shard: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")
    session_uid: Mapped[str] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    records: Mapped[list[Any] | None] = mapped_column(JSON)  # the shard's case records
