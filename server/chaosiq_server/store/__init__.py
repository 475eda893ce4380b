"""The server's data access: one repository per aggregate behind one facade.

``Store(db)`` is what the API routes, the console and the admin CLI use; each
attribute is the repository of one aggregate and holds every query about it:

=================  ===========================================================
``organizations``  organizations (``organizations.py``)
``teams``          teams of an organization (``organizations.py``)
``tokens``         API tokens, their teams, revocation (``tokens.py``)
``experiments``    experiments, matched by content (``experiments.py``)
``executions``     executions and journals; the id → team cache (``executions.py``)
``events``         an execution's CloudEvents: group-committed writes, the
                   timeline (``events.py``, ``event_writer.py``)
``sessions``       console sessions (``sessions.py``)
``signins``        failed console sign-ins per address (``signins.py``)
``policies``       safeguard policies of an execution, its verdict (``policies.py``)
``team_policies``  a team's safeguard policies: deny, windows, concurrency
                   (``team_policies.py``)
``pauses``         pauses of an execution (``pauses.py``)
``verifications``  verifications, runs, run events (``verifications.py``)
``retention``      deleting old finished executions (``retention.py``)
``audit``          the append-only audit log of each team (``audit.py``)
``history``        an experiment's executions over time, a verification's
                   deviated samples per run (``history.py``)
=================  ===========================================================

Repositories open their own transactions (``db.read()`` / ``db.write()``); a
check that must hold inside another repository's transaction is a
``require(conn, …)`` method (e.g. ``Executions.require``).
"""

from __future__ import annotations

from ..db import Database
from ..errors import BadInput, NotFound
from .audit import Audit
from .events import Events
from .execution_filter import ExecutionFilter
from .executions import ExecutionRow, Executions
from .experiments import Experiments
from .history import History
from .liveness import Liveness
from .organizations import Organizations, Teams
from .paging import Page
from .pauses import Pauses
from .policies import Policies
from .retention import Retention
from .sessions import Sessions
from .signins import FailedSignins
from .team_policies import TeamPolicies
from .tokens import TeamRef, TokenInfo, Tokens
from .verifications import Verifications


class Store:
    """Every repository, over one :class:`~chaosiq_server.db.Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.organizations = Organizations(db)
        self.teams = Teams(db)
        self.tokens = Tokens(db)
        self.sessions = Sessions(db)
        self.signins = FailedSignins(db)
        self.experiments = Experiments(db)
        self.executions = Executions(db)
        self.liveness = Liveness(db)
        self.events = Events(db, self.executions)
        self.team_policies = TeamPolicies(db)
        self.pauses = Pauses(db, self.executions)
        self.policies = Policies(db, self.executions, self.team_policies, self.pauses)
        self.verifications = Verifications(db, self.executions)
        self.retention = Retention(db)
        self.history = History(db)
        self.audit = Audit(db)


__all__ = [
    "BadInput",
    "ExecutionFilter",
    "ExecutionRow",
    "NotFound",
    "Page",
    "Store",
    "TeamRef",
    "TokenInfo",
]
