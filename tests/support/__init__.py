"""Helpers shared by the tests: suites, projects, subprocess runs, queries and servers."""
