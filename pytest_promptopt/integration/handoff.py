"""What an xdist controller and its workers hand each other: the keys and attributes they use.

The controller puts the session uid and its own (host, pid) in each worker's `workerinput`; a
worker sends home its run id and its optimize notes in `workeroutput`, and marks the reports of
an error in the team's own code with an attribute that travels with the report.
"""

from __future__ import annotations

SESSION_UID_KEY = "promptopt_session_uid"
"""`workerinput`: the session uid every worker shares, so all of them write to one run row."""
OWNER_KEY = "promptopt_owner"
"""`workerinput`: the controller's [host, pid]; its death abandons the run (and stops workers)."""
RUN_ID_KEY = "promptopt_run_id"
"""`workeroutput`: the run a finished worker wrote to."""
OPTIMIZED_KEY = "promptopt_optimized"
"""`workeroutput`: the optimize notes (as JSON) of the suites a worker optimized."""
USER_ERROR_ATTR = "promptopt_user_error"
"""A report attribute: the case failed in the team's own code (an error, not a failure)."""
