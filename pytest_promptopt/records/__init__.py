"""Shared, pure record types: the per-case record, totals, finalists and the stage summary base.

Storage persists them, reporting renders them, the pytest layer carries the case record; they
import only pydantic and the standard library.
"""

PREFIX = "promptopt_"
"""How every user property of a case record is named: `promptopt_<field>`."""
RECORD_KEY = f"{PREFIX}record"
"""The user property that carries a whole case record as JSON (kept here so finding one
imports nothing)."""
