"""One module per check kind; `checks.registry` finds each `CheckKind` subclass here."""
