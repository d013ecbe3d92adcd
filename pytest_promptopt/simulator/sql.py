"""A plausible SQL statement built from a natural-language question, for the SQL-only target."""

from __future__ import annotations

import re

from pytest_promptopt.simulator import text as tx

_SCHEMA = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(([a-z0-9_,\s]+)\)", re.I)
_SQL_VERBS = tx.wordset(
    """list show get find count select give fetch display return query write sql how many much
    number top highest lowest most least all each per which whose"""
)
_PLACES = tx.wordset("from in at")


def _schema(system: str) -> dict[str, list[str]]:
    """Tables declared in the prompt as `name(col, col, ...)`."""
    return {
        m.group(1).lower(): [c.strip().lower() for c in m.group(2).split(",") if c.strip()]
        for m in _SCHEMA.finditer(system)
        if "," in m.group(2)
    }


def _pick_table(nouns: list[str], schema: dict[str, list[str]]) -> str:
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


def _column(word: str, columns: list[str]) -> str | None:
    """The declared column a question word names (`signed` -> `signup_year`), if any."""
    w = tx.stem(word)
    for col in columns:
        parts = [tx.stem(p) for p in col.split("_")]
        if w == tx.stem(col) or any(
            p.startswith(w) or w.startswith(p) for p in parts if len(p) > 2
        ):
            return col
    return None


def build_sql(question: str, system: str = "", limit: int | None = None) -> str:
    """`SELECT ... FROM ... WHERE ...;` from the words of a question."""
    schema = _schema(system)
    raw = re.findall(r"[A-Za-z_][A-Za-z0-9_']*|\d+(?:\.\d+)?", question)
    low = [w.lower() for w in raw]
    nouns = [w for w in low if w not in tx.STOP_WORDS and w not in _SQL_VERBS and not w.isdigit()]
    table = _pick_table(nouns, schema)
    columns = schema.get(table, [])
    conditions: list[str] = []
    for i, word in enumerate(raw):
        prev = low[i - 1] if i else ""
        if word[0].isupper() and i > 0 and low[i] not in tx.STOP_WORDS:
            col = "city" if prev in _PLACES else "name"
            conditions.append(f"{_column(col, columns) or col} = '{word}'")
        elif word.isdigit() and prev not in ("top", "first", "last"):
            col = next((low[j] for j in range(i - 1, -1, -1) if low[j] in nouns), "id")
            col = _column(col, columns) or col.rstrip("s")
            op = (
                ">" if re.search(r"after|over|more|above|greater|since", " ".join(low[:i])) else "="
            )
            conditions.append(f"{col} {op} {word}")
    used = " ".join(conditions)
    picked = [c for n in nouns if n != table and (c := _column(n, columns)) and c not in used]
    select = ", ".join(dict.fromkeys(picked)) or "*"
    text = " ".join(low)
    if "how many" in text or re.search(r"\bcount\b|\bnumber of\b", text):
        select = "COUNT(*)"
    elif m := re.search(r"\b(average|avg|mean|total|sum)\b\s+(?:of\s+)?(?:the\s+)?(\w+)", text):
        fn = "SUM" if m.group(1) in ("total", "sum") else "AVG"
        target = _column(m.group(2), columns) or m.group(2)
        select = f"{fn}({target})"
    sql = f"SELECT {select} FROM {table}"
    if conditions:
        sql += " WHERE " + " AND ".join(dict.fromkeys(conditions))
    top = re.search(r"\b(?:top|first)\s+(\d+)", text)
    if by := re.search(r"\bby (\w+)", text):
        sql += f" ORDER BY {_column(by.group(1), columns) or by.group(1)} DESC"
    elif re.search(r"\b(highest|most|top|largest|best)\b", text):
        sql += f" ORDER BY {next(iter(picked), 'id')} DESC"
    if top or limit:
        sql += f" LIMIT {int(top.group(1)) if top else limit}"
    return sql + ";"
