"""Data-changing requests to the SQL target: the naive statement, or a read-only refusal."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_promptopt.simulator import text as tx
from pytest_promptopt.simulator.sql_schema import column

WRITE_VERBS: dict[str, str] = {
    **dict.fromkeys(("delete", "remove", "erase", "wipe", "purge"), "DELETE"),
    **dict.fromkeys(("update", "change", "modify", "rename", "edit"), "UPDATE"),
    **dict.fromkeys(("insert", "add"), "INSERT"),
    "drop": "DROP",
    "truncate": "TRUNCATE",
}
_WRITE_REQUEST = re.compile(
    r"^\W*(?:(?:please|can you|could you|would you|will you|now|just|go ahead and|i want to|"
    r"i need to|help me)\s+)*(" + "|".join(v for v in WRITE_VERBS if v != "add") + r")\b|"
    r"^\W*(add)\s+(?:an?|new|another)\b|\b(delete|truncate)\b",
    re.I,
)
# Words a directive uses to name each kind of data-changing statement.
_KIND_WORDS = {
    "DELETE": r"delet|remov|eras",
    "UPDATE": r"updat|modif|chang|edit",
    "INSERT": r"insert|add",
    "DROP": r"drop",
    "TRUNCATE": r"truncat",
}
_WRITE_WORDS = re.compile(
    r"\b(?:delet|updat|insert|drop|truncat|alter|modif|destructiv|writes? to)\w*|"
    r"data[- ]changing|data[- ]modifying|change (?:the |any )?data",
    re.I,
)
_FORBID = re.compile(
    r"\b(?:refus\w*|declin\w*|never|don't|do not|must not|may not|cannot|can't|avoid\w*|no|"
    r"not allowed|forbidden|prohibited|only)\b",
    re.I,
)
_POLICY = re.compile(
    r"read[- ]only|data[- ]changing|data[- ]modifying|destructive|"
    r"(?:modify|modifies|change|changes|alter|alters)\s+(?:the |any )?(?:data|database|tables?)|"
    r"write (?:statements|queries)",
    re.I,
)
_VERB_WORDS = {"DELETE": "remove", "UPDATE": "change", "INSERT": "add", "DROP": "remove"}


@dataclass(frozen=True)
class Directive:
    """One sentence of the system prompt, as the SQL target sees it."""

    text: str  # the whole sentence
    action: str  # what it asks for, without its `when ...` condition
    relevant: bool  # applies to this input (shares content words with it, or is general)


def write_kind(question: str) -> str | None:
    """`DELETE`, `UPDATE`, `INSERT`, `DROP` or `TRUNCATE` when a request asks to change data."""
    m = _WRITE_REQUEST.search(question.strip())
    if not m:
        return None
    return WRITE_VERBS[next(g for g in m.groups() if g).lower()]


def is_guard(text: str) -> bool:
    """Whether a directive forbids data-changing statements (read-only, never DELETE, ...)."""
    if re.search(r"read[- ]only", text, re.I):
        return True
    return bool(_FORBID.search(text) and _WRITE_WORDS.search(text))


def guards(kind: str, directives: Sequence[Directive]) -> bool:
    """Whether a directive forbidding this kind of statement applies to the request."""
    for d in directives:
        if not is_guard(d.text):
            continue
        if d.relevant or _POLICY.search(d.text) or re.search(_KIND_WORDS[kind], d.text, re.I):
            return True
    return False


def refusal(kind: str, table: str) -> str:
    """A short read-only refusal, as a SQL comment without the forbidden keyword."""
    verb = _VERB_WORDS.get(kind, "change")
    return (
        f"-- I can't help with that: I only write read-only SELECT queries, so I won't {verb} "
        f"data in {table}. I can write a SELECT that lists the matching {table} instead."
    )


def write_sql(kind: str, table: str, columns: list[str], raw: list[str], where: str) -> str:
    """The data-changing statement a naive model writes for a request."""
    if kind == "DROP":
        return f"DROP TABLE {table};"
    if kind == "TRUNCATE":
        return f"TRUNCATE TABLE {table};"
    if kind == "INSERT":
        cols = [c for c in columns if c != "id"] or ["name"]
        values = [w for w in raw[1:] if w[0].isupper() or w[0].isdigit()]
        vals = [f"'{v}'" if not v[0].isdigit() else v for v in values[: len(cols)]]
        vals += ["NULL"] * (len(cols) - len(vals))
        return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(vals)});"
    if kind == "UPDATE":
        low = [w.lower() for w in raw]
        to = max((i for i, w in enumerate(low) if w == "to"), default=-1)
        value = raw[to + 1] if 0 <= to < len(raw) - 1 else "NULL"
        col = next(
            (c for w in low[1:to] if tx.stem(w) != tx.stem(table) and (c := column(w, columns))),
            "status",
        )
        value = value if value.replace(".", "").isdigit() or value == "NULL" else f"'{value}'"
        return f"UPDATE {table} SET {col} = {value}{where};"
    return f"DELETE FROM {table}{where};"
