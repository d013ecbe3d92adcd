"""Suite files to models: the format, loading and validation (no pytest, no database)."""

SUITE_SUFFIXES = (".promptopt.yaml", ".promptopt.yml")
