"""What the simulated model remembers of a conversation: names, references, e-mails, the topic."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pytest_promptopt.simulator import text as tx

_KINDS = "order|ticket|booking|reservation|invoice|case|account|tracking|reference|confirmation"
KINDS = frozenset(_KINDS.split("|"))
_REFERENCE = re.compile(
    rf"\b({_KINDS})\b(?:\s+(?:number|no\.?|id|code|#))?(?:\s+is)?\s*[:#]?\s*"
    r"#?([A-Za-z]{0,5}-?\d[A-Za-z0-9-]*)",
    re.I,
)
_HASHED = re.compile(r"#\s?([A-Za-z]{0,5}-?\d[A-Za-z0-9-]*)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NAME_SAID = re.compile(r"\bmy name is\s+([A-Za-z][a-z'-]+(?:\s[A-Z][a-z'-]+)?)", re.I)
_NAME_INTRO = re.compile(
    r"\b(?:I'm|I am|[Tt]his is|[Cc]all me)\s+([A-Z][a-z'-]+(?:\s[A-Z][a-z'-]+)?)"
)
_NOT_NAMES = tx.wordset(
    "sorry happy glad afraid new back done fine good okay ok not very so just here still really "
    "looking having trying writing calling contacting wondering unable able interested"
)
_RECALL = re.compile(
    r"\b(?:what(?:'s| is| was)|do you (?:remember|know|recall)|remind me(?: of)?|"
    r"(?:tell|give) me|repeat|which (?:was|is))\s+(?:again\s+)?my\s+"
    rf"(name|e-?mail(?: address)?|{_KINDS})",
    re.I,
)
_BACK_REFERENCE = re.compile(
    r"^(?:and|also|what about|how about|so)\b|\b(?:it|its|that|this|they|them|those|these|"
    r"the same|the one|there)\b",
    re.I,
)


@dataclass(frozen=True)
class Reference:
    """An identifier the user gave (`order A-123`), with its kind."""

    kind: str
    value: str


@dataclass
class Facts:
    """What the user has said about themselves so far."""

    name: str = ""
    emails: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)

    def reference(self, kind: str = "") -> Reference | None:
        """The latest reference of a kind (any kind when none has it), or None."""
        same = [r for r in self.references if r.kind == kind.lower()]
        pool = same or self.references
        return pool[-1] if pool else None


def references(text: str) -> list[Reference]:
    """The identifiers in a text, in order: `order 4411`, `ticket #A-9`, a bare `#123`."""
    found = [Reference(m.group(1).lower(), m.group(2)) for m in _REFERENCE.finditer(text)]
    seen = {r.value for r in found}
    found += [Reference("reference", v) for v in _HASHED.findall(text) if v not in seen]
    return found


def name_in(text: str) -> str:
    """The name the user gives for themselves in a text, or ``""``."""
    if m := _NAME_SAID.search(text):
        return " ".join(w.capitalize() for w in m.group(1).split())
    for m in _NAME_INTRO.finditer(text):
        first = m.group(1).split()[0].lower()
        if first not in _NOT_NAMES and first not in tx.STOP_WORDS and not first.endswith("ing"):
            return m.group(1)
    return ""


def facts(user_texts: Iterable[str]) -> Facts:
    """The facts of every user text, later ones overriding earlier ones."""
    out = Facts()
    for text in user_texts:
        out.name = name_in(text) or out.name
        out.emails.extend(e for e in _EMAIL.findall(text) if e not in out.emails)
        out.references.extend(r for r in references(text) if r not in out.references)
    return out


def recall(question: str, known: Facts) -> str | None:
    """The answer to `what is my name/order number/...?`, or None when not asked."""
    m = _RECALL.search(question)
    if not m:
        return None
    what = m.group(1).lower()
    if what == "name":
        return f"Your name is {known.name}." if known.name else "You haven't told me your name yet."
    if "mail" in what:
        if known.emails:
            return f"Your e-mail address is {known.emails[-1]}."
        return "You haven't given me an e-mail address yet."
    ref = known.reference(what)
    if ref is None:
        article = "an" if what[0] in "aeiou" else "a"
        return f"You haven't given me {article} {what} number yet."
    return f"Your {what} number is {ref.value}."


def follows_up(question: str) -> bool:
    """Whether a message refers back to earlier turns (`when will it arrive?`, `and the fee?`)."""
    return bool(_BACK_REFERENCE.search(question)) or len(tx.content_words(question)) <= 2


def context_for(question: str, earlier_user_texts: list[str]) -> str:
    """The earlier user text a follow-up refers to (the latest with content), or ``""``."""
    if not follows_up(question):
        return ""
    return next((t for t in reversed(earlier_user_texts) if tx.content_words(t)), "")


def reminder(question: str, context: str, known: Facts) -> str | None:
    """A sentence tying a follow-up to the identifier given earlier, when it names none itself."""
    if not context or references(question):
        return None
    ref = known.reference()
    if ref is None or ref.value not in context:
        return None
    kind = "" if ref.kind == "reference" else f"{ref.kind} "
    return f"This is about your {kind}{ref.value}, as you mentioned earlier."
