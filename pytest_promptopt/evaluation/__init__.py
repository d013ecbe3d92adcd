"""Evaluating answers: the judge, scoring, and the case evaluator."""
