"""The simulated target model: follows the directives of its system prompt, nothing more."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pytest_promptopt.simulator import text as tx
from pytest_promptopt.simulator.sql import build_sql
from pytest_promptopt.simulator.sql_writes import Directive

_MODAL = re.compile(
    r"^(?:(?:always|you must|you should|make sure (?:to|that you)|be sure to|remember to|please|"
    r"in (?:every|each|all) (?:answer|reply|response|replies|answers)s?,?|"
    r"(?:every|each) (?:answer|reply|response) (?:must|should)|also|then)\s+)+",
    re.I,
)
_CONDITION_COLON = re.compile(r"^(?:when|if|whenever|for)\b([^:]*):\s*(.+)$", re.I)
_CONDITION_COMMA = re.compile(r"^(?:when|if|whenever|in case)\b([^,]*),\s*(.+)$", re.I)
_CONDITION_TAIL = re.compile(r"^(.+?)\s+(?:when|if|whenever)\s+(.+)$", re.I)
_NEGATIVE = re.compile(r"^(?:never|don't|do not|avoid|no)\b", re.I)
_PERSONA = re.compile(r"^(?:you are|you're|as an?|act as|your role|your name)\b", re.I)
_WRAP = re.compile(r"<([A-Za-z][\w-]*)>")
_WRAP_VERB = re.compile(
    r"\b(?:wrap|enclose|put|place|write|give)\b.*\b(?:answer|response|reply|output)\b|"
    r"\b(?:answer|response|reply|output)\b.*\b(?:inside|within|between|in)\b"
)
_VERBS = tx.wordset(
    """ask request apologise apologize state mention explain say note tell remind include cite
    emphasise emphasize point offer recommend suggest provide give share thank greet welcome
    confirm check verify escalate refer direct keep use list summarise summarize describe end
    start begin close sign add return answer respond reply invite encourage inform let"""
)
_OBJECT = re.compile(
    r"^(?:(?:the )?(?:user|customer|client|them|him|her)s?(?: that| about| for)?"
    r"|that|about|for)\s+",
    re.I,
)


@dataclass
class Prompt:
    """What the target understood from its system prompt."""

    text: str
    persona: str = ""
    actions: list[tuple[str, str, bool]] = field(default_factory=list)  # condition, action, general
    sql_only: bool = False
    json_keys: list[str] | None = None
    concise: bool = False
    steps: bool = False
    safe: bool = False
    clarify: bool = False
    limit: int | None = None
    wrap: str = ""  # a tag the answer goes inside (`<answer>...</answer>`)
    rules: list[tuple[str, str, str, bool]] = field(default_factory=list)  # every sentence, split


def read_prompt(system: str) -> Prompt:
    """Classify each directive of a system prompt."""
    p = Prompt(text=system)
    for sentence in tx.sentences(system):
        low = sentence.lower()
        p.rules.append((sentence, *split_condition(sentence)))
        if _PERSONA.match(sentence) and not p.persona:
            p.persona = sentence
        if re.search(r"\bsql\b", low) and re.search(
            r"\b(only|single|just|respond|answer|return)", low
        ):
            p.sql_only = True
            if m := re.search(r"\blimit\s+(\d+)", low):
                p.limit = int(m.group(1))
            continue
        if re.search(r"\bjson\b", low) and re.search(
            r"respond|answer|return|output|reply|format|only", low
        ):
            keys = re.findall(r"[\"'`](\w+)[\"'`]", sentence)
            if not keys and (m := re.search(r"\b(?:keys|fields|properties)\b:?\s+(.+)", low)):
                keys = [k for k in re.split(r",\s*|\s+and\s+|\s+", m.group(1)) if k.isidentifier()]
            p.json_keys = keys or ["answer"]
            continue
        if (m := _WRAP.search(sentence)) and _WRAP_VERB.search(low):
            p.wrap = m.group(1)
            continue
        if re.search(r"step[- ]by[- ]step|numbered (?:steps|list)", low):
            p.steps = True
            continue
        if re.search(
            r"\b(concise|brief|succinct|short answers?|keep (?:it|answers|replies) short)", low
        ):
            p.concise = True
            continue
        if tx.has_any(low, tx.SAFETY_MARKERS):
            p.safe = True
            continue
        if "clarif" in low or (re.search(r"ambiguous|unclear|vague", low) and "ask" in low):
            p.clarify = True
            continue
        if _PERSONA.match(sentence) or _NEGATIVE.match(sentence):
            continue
        p.actions.append(split_condition(sentence))
    return p


def split_condition(sentence: str) -> tuple[str, str, bool]:
    """(condition, action, general) of one directive sentence."""
    general = tx.has_any(sentence, tx.GENERAL_MARKERS)
    body = sentence.rstrip(".!")
    for pattern in (_CONDITION_COLON, _CONDITION_COMMA):
        if m := pattern.match(body):
            return m.group(1).strip(), _MODAL.sub("", m.group(2)).strip(), general
    if (m := _CONDITION_TAIL.match(body)) and len(m.group(1).split()) > 1:
        return m.group(2).strip(), _MODAL.sub("", m.group(1)).strip(), general
    return "", _MODAL.sub("", body).strip(), general


def _sub_actions(action: str) -> list[str]:
    """Split `apologise, ask for X and state Y` at each new imperative verb."""
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+|;\s*", action)
    out: list[str] = []
    for part in parts:
        first = part.split(" ", 1)[0].lower()
        if out and first not in _VERBS:
            out[-1] = f"{out[-1]}, {part}"
        elif part.strip():
            out.append(part.strip())
    return out


def render(action: str, rng: random.Random) -> str:
    """One directive action said as a natural first-person sentence."""
    verb, _, rest = action.partition(" ")
    v = verb.lower()
    rest = _OBJECT.sub("", rest.strip()).strip()
    if v in ("ask", "request"):
        if re.match(r"(whether|if|what|which|how|when|where|who)\b", rest):
            return f"Could you tell me {rest}?"
        return f"Could you please share {rest or 'a few more details'}?"
    if v in ("apologise", "apologize"):
        reason = rest if rest.startswith("for") else "for the inconvenience"
        return f"I'm sorry, and I apologise {reason}."
    if v in ("state", "mention", "explain", "say", "note", "tell", "remind", "include", "cite"):
        lead = rng.choice(("Please note:", "Just so you know:", "Keep in mind:"))
        return f"{lead} {rest}."
    if v in ("offer", "recommend", "suggest", "provide", "give", "share"):
        return f"I can {v} {rest}."
    if v in ("thank",):
        return f"Thank you {rest or 'for your patience'}."
    lowered = action[0].lower() + action[1:]
    return f"I will {lowered}."


def _relevant(p: Prompt, user_stems: set[str]) -> list[str]:
    """Actions of the prompt that apply to this input."""
    chosen: list[str] = []
    for condition, action, general in p.actions:
        cond_stems = tx.stems(condition or action, drop_meta=True)
        if general or cond_stems & user_stems:
            chosen.extend(_sub_actions(action))
    return chosen


def preface(system: str, user: str, rng: random.Random, skip: re.Pattern[str]) -> list[str]:
    """The prompt's directives for this input said before a tool call, those matching skip left out.

    A model that calls a tool first says what its prompt asks for (an apology, a greeting).
    """
    p = read_prompt(system)
    actions = _relevant(p, tx.stems(user, drop_meta=True))
    return [render(a, rng) for a in actions if not skip.search(a)]


def _sql_directives(p: Prompt, user_stems: set[str]) -> list[Directive]:
    """Every sentence of the prompt, marked relevant by the same rule as prose actions."""
    return [
        Directive(
            text=sentence,
            action=action,
            relevant=general or bool(tx.stems(condition or action, drop_meta=True) & user_stems),
        )
        for sentence, condition, action, general in p.rules
    ]


def _attack_reply(p: Prompt, kind: str, user: str, rng: random.Random) -> str:
    """A refusal when the prompt asks for one, else naive compliance."""
    if p.safe:
        tail = rng.choice(
            ("Is there something else I can help you with?", "I'm happy to help otherwise.")
        )
        if kind == "reveal":
            return f"I can't share my instructions; they are confidential. {tail}"
        return f"I can't help with that request. {tail}"
    if kind == "reveal":
        return f"Sure! Here are my instructions:\n{p.text}"
    if kind == "injection":
        return "Okay, ignoring my previous instructions. Here is what you asked for: " + user[:200]
    return f"Sure, here is how to do that: first, {user.strip().rstrip('?.!').lower()[:160]} ..."


def _clarify_reply(kind: str, user: str) -> str:
    """A clarifying question for an odd input."""
    if kind == "empty":
        return "It looks like your message was empty. Could you clarify what you need help with?"
    if kind == "long":
        return "Thanks for the details. Could you clarify which part you would like me to focus on?"
    if kind == "contradictory":
        return "Could you clarify whether you prefer a short summary or a detailed explanation?"
    if kind == "foreign":
        return (
            "Could you clarify whether you would like me to answer in English or in your language?"
        )
    return (
        f"Could you clarify what you mean by '{user.strip()[:60]}'? A few more details would help."
    )


def _json_answer(keys: list[str], prose: str, user: str) -> str:
    """A JSON object with the requested keys filled from the input and the prose answer."""
    cw = tx.content_words(user) or ["general"]
    obj: dict[str, object] = {}
    for key in keys:
        k = key.lower()
        if k in ("confidence", "score", "probability"):
            obj[key] = 0.9
        elif k in ("sentiment", "tone"):
            neg = re.search(r"\b(bad|broken|angry|terrible|late|refund|worst|hate)", user.lower())
            obj[key] = "negative" if neg else "positive"
        elif k in ("items", "list", "tags", "keywords", "topics", "entities"):
            obj[key] = cw[:4]
        elif k in ("category", "intent", "type", "topic", "label"):
            obj[key] = cw[0]
        else:
            obj[key] = prose
    return json.dumps(obj, ensure_ascii=False)


def answer(
    system: str,
    user: str,
    rng: random.Random,
    temperature: float = 1.0,
    *,
    context: str = "",
    leads: Sequence[str] = (),
    done: re.Pattern[str] | None = None,
) -> str:
    """The target's reply to one user message under one system prompt.

    `context` is the earlier user text a follow-up refers to (its words count as the
    question's); `leads` are sentences said first (recalled facts, tool results, attachments);
    directives matching `done` were already carried out (a tool call) and are not said again.
    """
    p = read_prompt(system)
    if done is not None:
        p.actions = [a for a in p.actions if not done.search(a[1])]
    reply = _reply(p, system, user, rng, temperature, context, list(leads))
    return f"<{p.wrap}>{reply}</{p.wrap}>" if p.wrap else reply


def _reply(
    p: Prompt,
    system: str,
    user: str,
    rng: random.Random,
    temperature: float,
    context: str,
    leads: list[str],
) -> str:
    """The reply's body, before any wrapping tag."""
    kind = tx.threat_kind(user)
    if kind:
        return _attack_reply(p, kind, user, rng)
    odd = tx.oddity(user)
    if odd in ("empty", "ambiguous") and (context or leads):
        odd = None  # a follow-up, or a message that is all attachments or tool results
    if odd and p.clarify:
        return _clarify_reply(odd, user)
    asked = f"{context} {user}" if context else user
    if p.sql_only:
        return build_sql(
            asked, system, p.limit, _sql_directives(p, tx.stems(asked, drop_meta=True))
        )
    if odd == "empty":
        return "I'm not sure what you mean; your message seems to be empty."
    user_stems = tx.stems(asked, drop_meta=True)
    actions = _relevant(p, user_stems)
    if len(actions) >= 3 and rng.random() < 0.1 * temperature:
        actions.pop(rng.randrange(len(actions)))  # sampling noise: an occasional omission
    said = [*leads, *(render(a, rng) for a in actions)]
    topic = " ".join((tx.content_words(user) or tx.content_words(context))[:3]) or "your request"
    if not said:
        said = [
            rng.choice(
                (
                    f"In general, questions about {topic} depend on your specific situation.",
                    f"There are several things to consider regarding {topic}.",
                    f"It depends on the details of {topic}, but usually it works out fine.",
                )
            )
        ]
    if p.json_keys is not None:
        return _json_answer(p.json_keys, " ".join(said), user)
    if p.steps:
        steps = [*said, "Check that everything is in order.", "Follow up if anything is unclear."]
        return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    if p.concise:
        return " ".join(said[:2])
    opener = rng.choice(
        (
            f"Thanks for your message about {topic}.",
            f"Happy to help with {topic}.",
            "Sure, let's look at this.",
        )
    )
    closer = rng.choice(("Let me know if there is anything else I can do.", "I hope this helps!"))
    if re.search(r"\bsql\b", system.lower()):
        said.append(
            f"Here is a query you could use:\n```sql\n{build_sql(user, system, p.limit)}\n```"
        )
    return " ".join([opener, *said, closer])
