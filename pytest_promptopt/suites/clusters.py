"""A case's cluster: the cases a comparison counts as one piece of evidence (`stats.clusters`).

A case's own `cluster` (a free string) wins; else the suite's `cluster_by` says:

- `category`: the case's category;
- `template`: the template its request is rendered from: the suite's `input` template for a
  case that gives only `vars`, or the case's own `input`, `messages` or `turns` when they hold
  Jinja2 markup (`{{ ... }}`, `{% ... %}`; an inline case, or a case file with
  `templated: true`); a case whose request is plain text is made from no template and is its
  own cluster;
- `case_file`: the case file its row was read from (`cases: more.csv`, or each `- {file: ...}`
  of a list, by its path relative to the suite file); a case written in the suite file itself
  is its own cluster.

Without either, every case is its own cluster (None) and comparisons use the plain tests.
"""

from __future__ import annotations

import hashlib
import json

from pytest_promptopt.suites.spec import Case, Suite

MARKUP = ("{{", "{%")


def _templated(text: str) -> bool:
    """True when `text` holds Jinja2 markup (a template rather than plain text)."""
    return any(m in text for m in MARKUP)


def request_template(suite: Suite, case: Case) -> str | None:
    """The template a case's request is rendered from (None: plain text, no template)."""
    if not case.gives_request:
        return suite.input
    if case.literal:
        return None
    if case.input is not None:
        written = case.input
    elif case.messages is not None:
        written = json.dumps([m.model_dump(mode="json") for m in case.messages], sort_keys=True)
    else:
        written = json.dumps(list(case.turns or ()))
    return written if _templated(written) else None


def cluster_of(suite: Suite, case: Case) -> str | None:
    """The case's cluster: its own `cluster`, else by the suite's `cluster_by` (module doc)."""
    if case.cluster is not None:
        return case.cluster
    if suite.cluster_by == "category":
        return case.category
    if suite.cluster_by == "case_file":
        return case.case_file
    if suite.cluster_by == "template":
        template = request_template(suite, case)
        if template is None:
            return None
        return f"template {hashlib.sha256(template.encode()).hexdigest()[:10]}"
    return None
