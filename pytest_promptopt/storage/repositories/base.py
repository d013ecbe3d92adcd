"""What every repository shares: the session it works in and the batch size of big lookups."""

from __future__ import annotations

from sqlalchemy.orm import Session

CHUNK = 500


class Repository:
    """Holds the session every repository works in."""

    def __init__(self, session: Session) -> None:
        """Work inside `session`; committing is the caller's job."""
        self.session = session
