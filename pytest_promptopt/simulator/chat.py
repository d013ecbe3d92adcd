"""The model under test answering a whole request: memory, attachments, tools, stop conditions."""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from pytest_promptopt.simulator import media, memory, target, tools
from pytest_promptopt.simulator import text as tx
from pytest_promptopt.simulator.request import Request, ToolResult

_ABOUT_ATTACHMENT = re.compile(
    r"\b(?:image|picture|photo|screenshot|document|file|pdf|attach\w*|page)s?\b", re.I
)


@dataclass(frozen=True)
class Reply:
    """The content blocks of an answer, why it stopped, and its size for the usage estimate."""

    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None
    output_chars: int


def _value(v: Any) -> str:
    """A tool result's value said in a sentence."""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _tool_sentence(result: ToolResult) -> str:
    """What the answer says about a tool's result (its fields, its text, or its error)."""
    name = result.name or "the tool"
    body = result.content.strip()
    if result.is_error:
        return f"Unfortunately {name} reported an error: {media.first_words(body, 30)}"
    value = tx.parse_json(body)
    if isinstance(value, dict) and value:
        parts = [f"the {str(k).replace('_', ' ')} is {_value(v)}" for k, v in value.items()]
        return f"According to {name}, {', '.join(parts[:8])}."
    if isinstance(value, list):
        shown = "; ".join(_value(v) for v in value[:3])
        return f"{name} found {len(value)} result{'s' if len(value) != 1 else ''}: {shown}."
    return (
        f'According to {name}: "{media.first_words(body, 40)}"'
        if body
        else f"{name} returned nothing."
    )


def _attachments(req: Request, question: str) -> list[media.Attachment]:
    """The attachments the answer mentions: the last turn's, else earlier ones it asks about."""
    if req.last_user.attachments:
        return list(req.last_user.attachments)
    if _ABOUT_ATTACHMENT.search(question):
        return [a for t in req.history for a in t.attachments]
    return []


def _leads(req: Request, question: str, context: str, known: memory.Facts) -> list[str]:
    """The sentences said before the prompt's own directives."""
    leads: list[str] = []
    recalled = memory.recall(question, known)
    if known.name and not (recalled and known.name in recalled):
        fresh = known.name == memory.name_in(question)
        leads.append(f"Nice to meet you, {known.name}." if fresh else f"Thanks, {known.name}.")
    if recalled:
        leads.append(recalled)
    leads.extend(_tool_sentence(r) for r in req.last_user.tool_results)
    for att in _attachments(req, question):
        leads.append(media.acknowledge(att))
        if att.text and (found := media.passage(att, question)):
            leads.append(f'The document says: "{found}"')
    if not recalled and (reminder := memory.reminder(question, context, known)):
        leads.append(reminder)
    return leads


def _cut(text: str, req: Request) -> tuple[str, str, str | None]:
    """The text as generated up to a stop sequence or `max_tokens`, and why it stopped there.

    The token estimate is the simulator's usual one: four characters a token.
    """
    limit = req.max_tokens * 4
    hits = [(text.find(s), s) for s in req.stop_sequences if s in text]
    if hits:
        at, seq = min(hits)
        if at <= limit:
            return text[:at], "stop_sequence", seq
    if len(text) > limit:
        return text[:limit], "max_tokens", None
    return text, "end_turn", None


def _tool_directive(names: list[str]) -> re.Pattern[str]:
    """Matches a directive to use a tool (`use lookup_order`, `look up the order`)."""
    named = "|".join(re.escape(n) for n in names)
    return re.compile(rf"{tools.TOLD.pattern}|(?i:{named})", tools.TOLD.flags)


def _tool_use(call: tools.Call, digest: str) -> dict[str, Any]:
    """The `tool_use` block of a call, its id derived from the request."""
    uid = hashlib.sha256(f"{digest}:{call.name}".encode()).hexdigest()[:24]
    return {"type": "tool_use", "id": f"toolu_sim_{uid}", "name": call.name, "input": call.input}


def _preamble(req: Request, asked: str, call: tools.Call, rng: random.Random) -> str:
    """What the model says before a call it chose: its prompt's directives, then the call."""
    said = target.preface(req.system, asked, rng, _tool_directive([call.name]))
    said.append(
        rng.choice(
            (
                f"Let me check that with {call.name}.",
                f"I'll look that up using {call.name}.",
                f"One moment while I use {call.name} to check.",
            )
        )
    )
    return " ".join(said)


def reply(req: Request, rng: random.Random, digest: str) -> Reply:
    """The model under test's answer to a request (`digest` identifies the request)."""
    question = req.question
    earlier = [t.text for t in req.history if t.role == "user" and t.text and t.text != question]
    known = memory.facts([*earlier, question])
    context = memory.context_for(question, earlier) if earlier else ""
    source = tools.Source(question, known, tuple(reversed(earlier)), context)
    call = tools.choose(req, source)
    if call is not None and call.forced:
        block = _tool_use(call, digest)
        return Reply([block], "tool_use", None, len(json.dumps(call.input)))
    if call is not None:
        text = _preamble(req, f"{context} {question}" if context else question, call, rng)
    else:
        leads = _leads(req, question, context, known)
        called = [r.name for t in req.turns for r in t.tool_results if r.name]
        done = _tool_directive(called) if called else None
        text = target.answer(
            req.system, question, rng, req.temperature, context=context, leads=leads, done=done
        )
    cut, stop, sequence = _cut(text, req)
    content: list[dict[str, Any]] = [{"type": "text", "text": cut}] if cut else []
    chars = len(cut)
    if call is not None and stop == "end_turn":
        block = _tool_use(call, digest)
        content.append(block)
        stop = "tool_use"
        chars += len(json.dumps(call.input))
    return Reply(content, stop, sequence, chars)
