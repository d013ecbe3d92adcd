"""Database URLs shown to users hide the password."""

from __future__ import annotations

from pytest_promptopt.storage.urls import hide_password


def test_hide_password_masks_only_the_password() -> None:
    assert hide_password("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert hide_password("postgresql+psycopg://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert hide_password("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_hide_password_leaves_what_is_not_a_url_as_it_is() -> None:
    assert hide_password("not a url") == "not a url"
