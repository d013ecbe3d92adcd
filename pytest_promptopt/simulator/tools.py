"""The simulated model's tool use: whether to call an offered tool, which one, with what input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema
import referencing.exceptions

from pytest_promptopt.simulator import memory, target
from pytest_promptopt.simulator import text as tx
from pytest_promptopt.simulator.request import Request, RequestError

TOLD = re.compile(
    r"\b(?:use|call|invoke|run)\s+(?:the|a|an|your|any|one of the)?\s*(?:\w+\s+)?"
    r"(?:tools?|functions?)\b|\blook(?:s|ing)?\s+(?:\w+\s+)?up\b|\blookup\b",
    re.I,
)
_ID_NAME = re.compile(
    r"(?:^|_)(?:id|number|num|no|ref|reference|code|sku)$|"
    r"order|ticket|booking|invoice|tracking|reservation|confirmation",
)
_PERSON_NAME = re.compile(r"^(?:(?:full|first|customer|user|contact)_?)?name$|^customer$|^user$")
_PLACE_NAME = re.compile(r"city|location|place|address|destination|origin|country|region")
_QUERY_NAME = re.compile(
    r"query|^q$|question|search|text|message|prompt|request|description|issue|problem|"
    r"details|content|body|subject|summary|reason|note|comment"
)
_LIST_NAME = re.compile(r"keywords?|terms?|topics?|tags?")
_PLACE = re.compile(r"\b(?:in|at|for|to|from|near)\s+([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_NUMBER = re.compile(r"(?<![\w#-])-?\d+(?:\.\d+)?(?![\w-])")
_MAX_DEPTH = 5
_COUNT_NAME = re.compile(r"quantity|qty|count|amount|limit|number_of|^n$|total|size|max")


@dataclass(frozen=True)
class Source:
    """Where tool inputs come from: the question, and what the user said before."""

    question: str
    known: memory.Facts
    earlier: tuple[str, ...] = ()  # the user's earlier texts, latest first
    context: str = ""  # the earlier text a follow-up question refers to


@dataclass(frozen=True)
class Call:
    """A tool call the simulated model makes."""

    name: str
    input: dict[str, Any]
    forced: bool


def _snake(name: str) -> str:
    """A property name in lower snake case (`orderId` -> `order_id`)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").lower()


def _resolve(schema: Any, root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """A schema with its local `$ref`s inlined (a few levels deep)."""
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth < 8:
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return _resolve(node, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict)]
        typed = [o for o in options if o.get("type") != "null"]
        if typed:
            merged = {k: v for k, v in schema.items() if k != key}
            return {**merged, **_resolve(typed[0], root, depth + 1)}
    return schema


def _type(schema: dict[str, Any]) -> str:
    """The schema's JSON type (the first non-null one), guessed from its keywords if absent."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema else "string"


def _valid(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """Whether a value validates against a property's schema (refs resolved against the root).

    A schema the validator cannot use accepts everything.
    """
    defs: dict[str, Any] = {k: root[k] for k in ("$defs", "definitions") if k in root}
    scoped = {**defs, **schema}
    try:
        return bool(jsonschema.validators.validator_for(scoped)(scoped).is_valid(value))
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.UnknownType):
        return True
    except referencing.exceptions.Unresolvable:
        return True


def _found_string(name: str, schema: dict[str, Any], src: Source) -> str | None:
    """A string value for a property, read from what the user said, or None."""
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        for said in (src.question, *src.earlier):
            try:
                m = re.search(pattern.lstrip("^").rstrip("$"), said)
            except re.error:
                break
            if m:
                return m.group(0)
    fmt = str(schema.get("format") or "")
    if fmt == "email" or "mail" in name:
        return src.known.emails[-1] if src.known.emails else None
    if fmt == "date" or "date" in name:
        m = _DATE.search(src.question)
        return m.group(0) if m else None
    if _ID_NAME.search(name):
        kind = next((k for k in name.split("_") if k in memory.KINDS), "")
        ref = src.known.reference(kind)
        return ref.value if ref else None
    if _PERSON_NAME.search(name):
        return src.known.name or None
    if _PLACE_NAME.search(name):
        m = _PLACE.search(src.question)
        return m.group(1) if m else None
    if _LIST_NAME.search(name):
        return " ".join(tx.content_words(src.question, drop_meta=True)[:5]) or None
    if _QUERY_NAME.search(name):
        return src.question.strip()[:300] or None
    return None


def _found(name: str, schema: dict[str, Any], src: Source, root: dict[str, Any], depth: int) -> Any:
    """A value for a property read from the conversation, or None when nothing fits."""
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list):
        want = tx.stems(src.question)
        return next((v for v in schema["enum"] if tx.stems(str(v)) & want), None)
    kind = _type(schema)
    if kind == "string":
        return _found_string(name, schema, src)
    if kind in ("integer", "number") and _COUNT_NAME.search(name):
        m = _NUMBER.search(src.question)
        if m:
            return int(float(m.group(0))) if kind == "integer" else float(m.group(0))
    if kind == "object":
        value, found = build(schema, src, root, depth + 1)
        return value if found else None
    if kind == "array":
        item = _resolve(schema.get("items"), root)
        value = _found(name, item, src, root, depth + 1)
        return [value] if value is not None else None
    return None


def _fallback(schema: dict[str, Any], src: Source, root: dict[str, Any], depth: int) -> Any:
    """The value a careful model sends when the conversation gives none: a default or example."""
    if "default" in schema:
        return schema["default"]
    for example in schema.get("examples") or []:
        if _valid(example, schema, root):
            return example
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = _type(schema)
    if kind == "string":
        words = " ".join(tx.content_words(src.question)[:6]) or "unknown"
        low, high = int(schema.get("minLength") or 0), schema.get("maxLength")
        return words.ljust(low, "x")[: int(high) if isinstance(high, int) else None]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = max(1, low + (1 if "exclusiveMinimum" in schema else 0))
        high = schema.get("maximum")
        return min(value, high) if isinstance(high, (int, float)) else value
    if kind == "boolean":
        return False
    if kind == "object":
        return build(schema, src, root, depth + 1)[0]
    if kind == "array":
        item = _resolve(schema.get("items"), root)
        count = int(schema.get("minItems") or 0)
        return [_fallback(item, src, root, depth + 1) for _ in range(count)]
    return None


def build(
    schema: Any, src: Source, root: dict[str, Any] | None = None, depth: int = 0
) -> tuple[dict[str, Any], int]:
    """An input for an object schema and how many of its values came from the conversation.

    Every property the conversation fills is sent; a required one it does not fill gets the
    schema's default or example; each value is checked against its property's schema.
    Nesting stops a few levels deep (a recursive schema ends in empty objects).
    """
    top = root if root is not None else (schema if isinstance(schema, dict) else {})
    if depth > _MAX_DEPTH:
        return {}, 0
    obj = _resolve(schema, top)
    required = [r for r in obj.get("required") or [] if isinstance(r, str)]
    given = obj.get("properties")
    props: dict[str, Any] = given if isinstance(given, dict) else {}
    out: dict[str, Any] = {}
    found = 0
    for name, raw in props.items():
        prop = _resolve(raw, top)
        value = _found(_snake(name), prop, src, top, depth)
        if value is not None and _valid(value, prop, top):
            out[name] = value
            found += 1
        elif name in required:
            out[name] = _fallback(prop, src, top, depth)
    return out, found


def _named(name: str, system: str) -> bool:
    """Whether a system prompt names a tool (`lookup_order`, or `lookup order`)."""
    low = system.lower()
    n = name.lower()
    return bool(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", low)) or (
        "_" in n and n.replace("_", " ") in low
    )


def _score(tool: dict[str, Any], src: Source) -> int:
    """How well a tool fits the request: words it shares with it, plus values it fills."""
    schema = tool.get("input_schema") or {}
    about = f"{str(tool.get('name', '')).replace('_', ' ')} {tool.get('description', '')} "
    about += " ".join(str(p) for p in (schema.get("properties") or {}))
    shared = _asked(src) & tx.stems(about, drop_meta=True)
    return len(shared) + build(schema, src)[1]


def _asked(src: Source) -> set[str]:
    """The stems of the question and of the earlier text a follow-up refers to."""
    return tx.stems(f"{src.context} {src.question}", drop_meta=True)


def _applies(tool: dict[str, Any], system: str, src: Source) -> bool:
    """Whether the system prompt tells the model to use this tool for this question.

    A sentence naming the tool (or saying `use the tools`, `look up`) applies when it says
    `always`, when its condition (`when ... asks about an order`) matches the question, or,
    with no condition, when the question relates to the tool at all.
    """
    for sentence in tx.sentences(system):
        if not (_named(tool["name"], sentence) or TOLD.search(sentence)):
            continue
        condition, _, general = target.split_condition(sentence)
        wanted = tx.stems(condition, drop_meta=True)
        if general or (wanted & _asked(src) if wanted else _score(tool, src) > 0):
            return True
    return False


def _best(tools: list[dict[str, Any]], src: Source) -> dict[str, Any]:
    """The tool that fits best (the first on a tie)."""
    scored = [(_score(t, src), -i, t) for i, t in enumerate(tools)]
    return max(scored, key=lambda s: (s[0], s[1]))[2]


def choose(req: Request, src: Source) -> Call | None:
    """The tool call the model makes, or None when it answers in text.

    `tool_choice` `tool` and `any` force a call; `none` forbids one; otherwise (`auto`) the
    model calls a tool its system prompt tells it to use for this question, and answers a
    tool's result in text.
    """
    choice = req.tool_choice.get("type")
    tools = [t for t in req.tools if isinstance(t.get("name"), str)]
    if not tools or choice == "none":
        return None
    if choice == "tool":
        name = req.tool_choice.get("name")
        tool = next((t for t in tools if t["name"] == name), None)
        if tool is None:
            raise RequestError(f"tool_choice.name: no tool named {name!r} in tools")
        return Call(tool["name"], build(tool.get("input_schema"), src)[0], True)
    if choice == "any":
        tool = _best(tools, src)
        return Call(tool["name"], build(tool.get("input_schema"), src)[0], True)
    if req.last_user.tool_results:
        return _follow_up(req, tools, src)
    if tx.threat_kind(req.question):
        return None
    candidates = [
        t for t in tools if _applies(t, req.system, src) and not _chained(t, tools, req.system)
    ]
    if not candidates:
        return None
    tool = _best(candidates, src)
    return Call(tool["name"], build(tool.get("input_schema"), src)[0], False)


def _chained(tool: dict[str, Any], tools: list[dict[str, Any]], system: str) -> bool:
    """True when every sentence naming the tool names another tool too: a follow-up call,
    made only once the other's results are in."""
    others = [t["name"] for t in tools if t["name"] != tool["name"]]
    naming = [s for s in tx.sentences(system) if _named(tool["name"], s)]
    return bool(naming) and all(any(_named(o, s) for o in others) for s in naming)


def _follow_up(req: Request, tools: list[dict[str, Any]], src: Source) -> Call | None:
    """The next call of a tool loop after tool results, or None: answer from them.

    A tool not called yet is called when a sentence of the system prompt names it and a tool
    already called (`If lookup_order shows the order was delivered, call issue_refund`) and
    the sentence's condition, if any, shares a word with that tool's successful results.
    """
    called = {str(u.get("name")) for t in req.turns for u in t.tool_uses}
    results = [r for r in req.last_user.tool_results if not r.is_error]
    if not results:
        return None
    said = " ".join(r.content for r in results)
    for tool in tools:
        if tool["name"] in called:
            continue
        for sentence in tx.sentences(req.system):
            before = [c for c in called if _named(c, sentence)]
            if not _named(tool["name"], sentence) or not before:
                continue
            condition = target.split_condition(sentence)[0]
            named = " ".join(n.replace("_", " ") for n in (*before, tool["name"]))
            wanted = tx.stems(condition, drop_meta=True) - tx.stems(named, drop_meta=True)
            if not wanted or wanted & tx.stems(said, drop_meta=True):
                found = Source(f"{src.question} {said}", src.known, src.earlier, src.context)
                return Call(tool["name"], build(tool.get("input_schema"), found)[0], False)
    return None
