"""A plausible SQL statement built from a natural-language question, for the SQL-only target."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_promptopt.simulator import text as tx
from pytest_promptopt.simulator.sql_schema import (
    SCHEMA,
    column,
    date_column,
    link,
    linked,
    pick_table,
    schema_of,
)
from pytest_promptopt.simulator.sql_writes import (
    WRITE_VERBS,
    Directive,
    guards,
    refusal,
    write_kind,
    write_sql,
)

_SQL_VERBS = tx.wordset(
    """list show get find count select give fetch display return query write sql how many much
    number top highest lowest most least all each per which whose"""
)
_PLACES = tx.wordset("from in at")
_SQL_WORDS = tx.wordset("select from where group order by sum count join query answer request")
_AMOUNTS = ("total", "amount", "revenue", "price", "value", "cost", "sales", "sum")
_ALIASES = tx.wordset("revenue sales spend spent spending amount income turnover")


@dataclass
class _Shape:
    """Clauses the relevant directives ask the query to have."""

    group: bool = False
    join: bool = False
    total: bool = False
    order: bool = False
    asc: bool = False
    count: bool = False
    words: str = ""  # the directives' text, schema declarations removed


def _shape(directives: Sequence[Directive]) -> _Shape:
    """The clauses the relevant directives ask for."""
    text = " ".join(SCHEMA.sub(" ", d.action) for d in directives if d.relevant).lower()
    return _Shape(
        group=bool(re.search(r"\bgroup(?:s|ed|ing)?\b|\bper [a-z]|\baggregat", text)),
        join=bool(re.search(r"\bjoin(?:s|ed|ing)?\b", text)),
        total=bool(re.search(r"\bsum(?:s|med|ming)?\b|\btotals?\b", text)),
        order=bool(
            re.search(
                r"\border(?:ed)? by\b|\bsort|\bdesc(?:ending)?\b|\bascending\b|\brank|"
                r"\b(?:highest|largest|biggest|lowest|smallest) first\b",
                text,
            )
        ),
        asc=bool(re.search(r"\bascending\b|\basc\b|\b(?:lowest|smallest) first\b", text)),
        count=bool(re.search(r"\bcount(?:s|ing)?\b|\bnumber of\b|\bhow many\b", text)),
        words=text,
    )


def _shaped(
    shape: _Shape,
    low: list[str],
    table: str,
    schema: dict[str, list[str]],
    conditions: list[str],
    select: str,
    picked: list[str],
    limit: int | None,
) -> str:
    """The query with the clauses the directives ask for: joins, SUM, COUNT, GROUP BY, ORDER BY."""
    text = " ".join(low)
    mentioned = tx.stems(text + " " + shape.words)
    # the grouping entity: `per customer`, `for each customer`, `group by customer`
    entity = None
    for source in (text, shape.words):
        found = re.findall(r"\b(?:per|each|every|group(?:ed|ing)? by)\s+(\w+)", source)
        if hit := next((w for w in found if w not in tx.STOP_WORDS and w not in _SQL_WORDS), None):
            entity = hit
            break
    entity_table = next((t for t in schema if entity and tx.stem(t) == tx.stem(entity)), None)
    base = entity_table if shape.group and entity_table else table
    # the summed column: `summing total`, `SUM(total)`, `total revenue`
    sum_col, owner = None, base
    if shape.total:
        words = re.findall(
            r"\b(?:sum(?:s|med|ming)?|totals?)\s*\(?\s*(?:of\s+)?(?:the\s+)?(\w+)",
            shape.words + " " + text,
        )
        tables = [base, *[t for t in schema if t != base]]
        for word in [*words, *_AMOUNTS]:
            hit = next(((t, c) for t in tables if (c := column(word, schema.get(t, [])))), None)
            if hit and hit[1] != "id" and not hit[1].endswith("_id"):
                owner, sum_col = hit
                break
        if sum_col is None:
            sum_col = next((w for w in words if w not in tx.STOP_WORDS), "amount")
    # the joined table: named by the input or directives, or holding the summed column
    partner = None
    if shape.join or owner != base:
        others = [t for t in schema if t != base]
        named = [t for t in others if tx.stem(t) in mentioned]
        partner = next(
            (t for t in [owner, *named] if t != base and t in others and linked(base, t, schema)),
            next((t for t in [owner, *named] if t != base), None),
        )
        if partner is None and not schema:
            nouns = [w for w in re.findall(r"[a-z_]+", shape.words + " " + text)]
            partner = next(
                (w for w in nouns if w.endswith("s") and w != base and w not in tx.STOP_WORDS),
                None,
            )
    joined = partner is not None

    def q(t: str, c: str) -> str:
        return f"{t}.{c}" if joined else c

    keys: list[str] = []
    labels: list[str] = []
    if shape.group:
        if entity_table:
            cols = schema[entity_table]
            keys = [q(entity_table, "id")] if "id" in cols else []
            if "name" in cols:
                keys.append(q(entity_table, "name"))
            labels = [k for k in keys if k.endswith("name")] or keys[:1]
        elif entity:
            col = column(entity, schema.get(base, [])) or entity
            keys = labels = [q(base, col)]
        else:
            col = next(iter(picked), "name" if "name" in schema.get(base, ["name"]) else "id")
            keys = labels = [q(base, col)]
    agg, alias = "", ""
    if shape.count or select.startswith("COUNT"):
        agg, alias = "COUNT(*)", "count"
    elif shape.total and sum_col:
        agg = f"SUM({q(owner, sum_col)})"
        alias = next(
            (w for w in low if w in _ALIASES), f"total_{sum_col}".replace("total_total", "total")
        )
    elif m := re.match(r"(SUM|AVG)\((\w+)\)", select):
        agg, alias = f"{m.group(1)}({q(owner, m.group(2))})", f"{m.group(1).lower()}_{m.group(2)}"
    if agg:
        parts = [*labels, f"{agg} AS {alias}" if (labels or shape.order) else agg]
        cols_sql = ", ".join(parts)
    else:
        cols_sql = ", ".join(labels) or (
            select
            if not joined or select == "*"
            else ", ".join(q(base, c) for c in select.split(", "))
        )
        if joined and cols_sql == "*":
            cols_sql = f"{base}.*"
    sql = f"SELECT {cols_sql} FROM {base}"
    if partner:
        sql += f" JOIN {partner} ON {link(base, partner, schema)}"
    if conditions:
        sql += " WHERE " + " AND ".join(dict.fromkeys(conditions))
    if keys:
        sql += " GROUP BY " + ", ".join(keys)
    want_order = shape.order or re.search(r"\b(highest|most|top|largest|best|lowest)\b", text)
    if want_order:
        by = re.search(r"\bby (\w+)", text)
        target = alias or (
            (column(by.group(1), schema.get(base, [])) or by.group(1))
            if by
            else next(iter(picked), "id")
        )
        sql += f" ORDER BY {target} {'ASC' if shape.asc else 'DESC'}"
    top = re.search(r"\b(?:top|first)\s+(\d+)", text)
    if top or limit:
        sql += f" LIMIT {int(top.group(1)) if top else limit}"
    return sql + ";"


def build_sql(
    question: str,
    system: str = "",
    limit: int | None = None,
    directives: Sequence[Directive] = (),
) -> str:
    """`SELECT ... FROM ... WHERE ...;` from the words of a question, shaped by the directives.

    A data-changing request gets the naive statement, or a read-only refusal when a
    directive forbids such statements.
    """
    schema = schema_of(system)
    raw = re.findall(r"[A-Za-z_][A-Za-z0-9_']*|\d+(?:\.\d+)?", question)
    low = [w.lower() for w in raw]
    kind = write_kind(question)
    nouns = [
        w
        for w in low
        if w not in tx.STOP_WORDS
        and w not in _SQL_VERBS
        and not w.isdigit()
        and not (kind and w in WRITE_VERBS)
    ]
    table = pick_table(nouns, schema)
    if kind and guards(kind, directives):
        return refusal(kind, table)
    columns = schema.get(table, [])
    conditions: list[str] = []
    for i, word in enumerate(raw):
        prev = low[i - 1] if i else ""
        if word[0].isupper() and i > 0 and low[i] not in tx.STOP_WORDS:
            if kind == "UPDATE" and prev == "to":
                continue
            col = "city" if prev in _PLACES else "name"
            conditions.append(f"{column(col, columns) or col} = '{word}'")
        elif word.isdigit() and prev not in ("top", "first", "last"):
            col = next((low[j] for j in range(i - 1, -1, -1) if low[j] in nouns), "id")
            before = " ".join(low[max(0, i - 3) : i])
            date = date_column(columns)
            if (
                not column(col, columns)
                and date
                and 1900 <= int(float(word)) <= 2100
                and re.search(r"older|before|earlier|prior|after|since|newer|later", before)
            ):
                older = re.search(r"older|before|earlier|prior", before)
                value = word if "year" in date else f"'{word}-01-01'"
                conditions.append(f"{date} {'<' if older else '>='} {value}")
                continue
            col = column(col, columns) or col.rstrip("s")
            op = (
                ">" if re.search(r"after|over|more|above|greater|since", " ".join(low[:i])) else "="
            )
            conditions.append(f"{col} {op} {word}")
    if kind:
        where = " WHERE " + " AND ".join(dict.fromkeys(conditions)) if conditions else ""
        return write_sql(kind, table, columns, raw, where)
    used = " ".join(conditions)
    picked = [c for n in nouns if n != table and (c := column(n, columns)) and c not in used]
    select = ", ".join(dict.fromkeys(picked)) or "*"
    text = " ".join(low)
    if "how many" in text or re.search(r"\bcount\b|\bnumber of\b", text):
        select = "COUNT(*)"
    elif m := re.search(r"\b(average|avg|mean|total|sum)\b\s+(?:of\s+)?(?:the\s+)?(\w+)", text):
        fn = "SUM" if m.group(1) in ("total", "sum") else "AVG"
        target = column(m.group(2), columns) or m.group(2)
        select = f"{fn}({target})"
    shape = _shape(directives)
    if shape.group or shape.join or shape.total or shape.order or shape.count:
        return _shaped(shape, low, table, schema, conditions, select, picked, limit)
    sql = f"SELECT {select} FROM {table}"
    if conditions:
        sql += " WHERE " + " AND ".join(dict.fromkeys(conditions))
    top = re.search(r"\b(?:top|first)\s+(\d+)", text)
    if by := re.search(r"\bby (\w+)", text):
        sql += f" ORDER BY {column(by.group(1), columns) or by.group(1)} DESC"
    elif re.search(r"\b(highest|most|top|largest|best)\b", text):
        sql += f" ORDER BY {next(iter(picked), 'id')} DESC"
    if top or limit:
        sql += f" LIMIT {int(top.group(1)) if top else limit}"
    return sql + ";"
