"""The `promptopt` command: runs, show, diff, best and db."""
