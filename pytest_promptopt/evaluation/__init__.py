"""Judging answers: the evaluator, the judge, the checks, results and the per-case record."""

RECORD_KEY = "promptopt_suite"
"""The user property every case record starts with (kept here so finding one imports nothing)."""
