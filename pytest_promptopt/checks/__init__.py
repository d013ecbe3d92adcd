"""Check kinds: one class per kind in `kinds/` (validate, run, describe), found by `registry`.

The package sits below `suites/` so the suite parser can validate every kind; the checks read
an answer and the call's figures through the small protocols of `base`, and the evaluator runs
them (`evaluation/checks.py`).
"""
