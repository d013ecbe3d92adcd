"""The tables a SQL target's prompt declares, and the names a question gives them."""

from __future__ import annotations

import re

from pytest_promptopt.simulator import text as tx

SCHEMA = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(([a-z0-9_,\s]+)\)", re.I)


def schema_of(system: str) -> dict[str, list[str]]:
    """Tables declared in the prompt as `name(col, col, ...)`."""
    return {
        m.group(1).lower(): [c.strip().lower() for c in m.group(2).split(",") if c.strip()]
        for m in SCHEMA.finditer(system)
        if "," in m.group(2)
    }


def singular(table: str) -> str:
    """`customers` -> `customer`, `categories` -> `category`."""
    if table.endswith("ies"):
        return table[:-3] + "y"
    return table[:-1] if table.endswith("s") and not table.endswith("ss") else table


def pick_table(nouns: list[str], schema: dict[str, list[str]]) -> str:
    """The declared table matching a noun of the question, else a plural noun."""
    noun_stems = {tx.stem(n) for n in nouns}
    for table in schema:
        if tx.stem(table) in noun_stems:
            return table
    for table, cols in schema.items():
        if noun_stems & {tx.stem(c) for c in cols}:
            return table
    plural = [n for n in nouns if n.endswith("s") and not n.endswith("ss")]
    if plural:
        return plural[0]
    return (nouns[0] + "s") if nouns else "records"


def column(word: str, columns: list[str]) -> str | None:
    """The declared column a question word names (`signed` -> `signup_year`), if any."""
    w = tx.stem(word)
    for col in columns:
        parts = [tx.stem(p) for p in col.split("_")]
        if w == tx.stem(col) or any(
            p.startswith(w) or w.startswith(p) for p in parts if len(p) > 2
        ):
            return col
    return None


def date_column(columns: list[str]) -> str | None:
    """The table's date-like column (`created_at`, `signup_date`, `year`), if any."""
    return next((c for c in columns if re.search(r"(?:_at|_on|date|year|time)$|^created", c)), None)


def link(base: str, other: str, schema: dict[str, list[str]]) -> str:
    """The join condition between two tables, from their `<table>_id` columns."""
    fk_other = f"{singular(base)}_id"
    fk_base = f"{singular(other)}_id"
    if fk_base in schema.get(base, []) and fk_other not in schema.get(other, []):
        return f"{base}.{fk_base} = {other}.id"
    return f"{other}.{fk_other} = {base}.id"


def linked(base: str, other: str, schema: dict[str, list[str]]) -> bool:
    """Whether one of the two tables has a `<other table>_id` column."""
    return f"{singular(base)}_id" in schema.get(other, []) or f"{singular(other)}_id" in (
        schema.get(base, [])
    )
