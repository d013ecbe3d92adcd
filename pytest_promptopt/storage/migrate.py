"""Packaged Alembic migrations: a `Config` built in code and an upgrade safe across processes."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from pytest_promptopt.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# The ids of the chain before it was renumbered in chain order (unreleased, December 2026): a
# database stamped with one is restamped with the same migration's new id, then upgraded.
RENAMED_REVISIONS: dict[str, str] = {
    "promptopt_0001": "0001_initial",
    "promptopt_0002": "0002_budget_ledgers",
    "promptopt_0003": "0003_evaluation_tool_calls",
    "promptopt_0004": "0004_evaluation_scores",
    "promptopt_0005": "0005_baselines",
    "promptopt_0008": "0006_rate_limits",
    "promptopt_0005_cost": "0007_nullable_cost",
    "promptopt_0006": "0008_judge_calibration",
    "promptopt_0007": "0009_case_split",
    "promptopt_0009": "0010_batches",
    "promptopt_0010": "0011_model_capabilities",
    "promptopt_0011": "0012_cache_provenance_run_usage",
    "promptopt_0012": "0013_run_heartbeat",
}
# `revision: str = "..."` and `down_revision: str | None = "..."` lines of a migration file.
_REVISION_LINE = re.compile(r'^(revision|down_revision): [^=]+= (?:None|"([^"]+)")\s*$', re.M)
# Arbitrary constant key for pg_advisory_xact_lock ("promptop" as ASCII bytes).
_PG_LOCK_KEY = 0x70726F6D70746F70


def alembic_config(connection: Connection | None = None) -> Config:
    """Build an Alembic `Config` in code, pointing at the packaged migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def head_revision() -> str:
    """Return the head of the packaged migration chain, as Alembic finds it."""
    head = _script().get_current_head()
    assert head is not None, "the packaged migrations have no head revision"
    return head


@functools.cache
def chain_head() -> str:
    """Return the head of the chain read from the revision files, without importing Alembic.

    The start of every session needs it (is the database at head?) and Alembic's import costs
    more than the query; a test keeps it equal to `head_revision()`.
    """
    parents: dict[str, str | None] = {}
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        fields = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" in fields:
            parents[fields["revision"]] = fields.get("down_revision") or None
    heads = set(parents) - set(parents.values())
    if len(heads) != 1:
        raise RuntimeError(f"the packaged migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def known_revisions() -> set[str]:
    """Return every revision id this code ships."""
    return {rev.revision for rev in _script().walk_revisions()}


def _revision_of(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is stamped with, or None for a fresh database."""
    with engine.connect() as connection:
        return _revision_of(connection)


def _where(connection: Connection) -> str:
    url = connection.engine.url
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


def _not_ours(connection: Connection) -> DatabaseError:
    return DatabaseError(
        f"{_where(connection)} is not a pytest-promptopt database (it holds tables of another "
        "application): point --promptopt-db (or PROMPTOPT_DB) at another file or database, "
        "or move this one away"
    )


def _needs_upgrade(connection: Connection) -> bool:
    """Say whether an upgrade is due; raise `DatabaseError` for foreign or newer databases."""
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE not in tables:
        if tables:
            raise _not_ours(connection)
        return True
    revision = _revision_of(connection)
    if revision is None:
        if tables - {VERSION_TABLE}:
            raise _not_ours(connection)
        return True
    if revision in RENAMED_REVISIONS:
        return True  # stamped by the chain before its renumbering: restamped, then upgraded
    if revision not in known_revisions():
        if "optimization_runs" not in tables:
            raise _not_ours(connection)
        raise DatabaseError(
            f"{_where(connection)} was written by a newer pytest-promptopt (schema revision "
            f"{revision!r}, this version knows up to {head_revision()!r}): "
            "run `pip install -U pytest-promptopt`"
        )
    return revision != head_revision()


def check_schema(engine: Engine) -> bool:
    """Return True when the database is at head; raise `DatabaseError` if it is not ours."""
    with engine.connect() as connection:
        if _stamped_at_head(connection):
            return True  # the common case, answered without importing Alembic
        return not _needs_upgrade(connection)


def _stamped_at_head(connection: Connection) -> bool:
    """True when `alembic_version` holds exactly the chain's head (False on any doubt)."""
    if connection.in_transaction():
        return False
    connection.execution_options(promptopt_read_only=True)  # a read: no SQLite write lock
    try:
        with connection.begin():
            rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except (OperationalError, ProgrammingError):
        return False
    return [r[0] for r in rows] == [chain_head()]


def _create_at_head(connection: Connection) -> None:
    """Create every table of the models and stamp the database at the chain's head."""
    from pytest_promptopt.storage.models import Base

    Base.metadata.create_all(connection)
    connection.execute(
        text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
             f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))")
    )  # fmt: skip
    connection.execute(
        text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": chain_head()}
    )


def _restamp_renamed(connection: Connection) -> None:
    """Give a database stamped with a pre-renumbering id its migration's new id."""
    old = _revision_of(connection)
    if old in RENAMED_REVISIONS:
        connection.execute(
            text(f"UPDATE {VERSION_TABLE} SET version_num = :new WHERE version_num = :old"),
            {"new": RENAMED_REVISIONS[old], "old": old},
        )


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration in one locked transaction, tolerating concurrent callers.

    An empty database is created from the models and stamped at head (as Optuna does): the
    same schema, a test proves it, without running every migration; Alembic upgrades the rest.
    """
    try:
        # On SQLite the engine's begin hook emits BEGIN IMMEDIATE, so concurrent
        # processes queue here and the later ones find the schema at head.
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                )
            if not inspect(connection).get_table_names():
                _create_at_head(connection)
            elif _needs_upgrade(connection):
                from alembic import command

                _restamp_renamed(connection)
                command.upgrade(alembic_config(connection), "head")
    except (OperationalError, ProgrammingError) as exc:
        # Another process created the tables between our check and our DDL
        # (possible only on engines without the locking hooks): accept its work.
        if "already exists" not in str(exc) or not check_schema(engine):
            raise


__all__ = [
    "MIGRATIONS_DIR",
    "RENAMED_REVISIONS",
    "alembic_config",
    "chain_head",
    "check_schema",
    "current_revision",
    "head_revision",
    "known_revisions",
    "upgrade_to_head",
]
