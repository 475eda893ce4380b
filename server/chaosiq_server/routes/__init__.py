"""HTTP routes, one router per area of the API; each sets its path prefix and tag once.

``API_ROUTERS`` is what ``create_app`` includes, before the console;
``meta.probe_router`` (``/`` for an app without the console) comes after it.
"""

from __future__ import annotations

from . import events, executions, experiments, meta, organizations, policies, verifications

API_ROUTERS = (
    meta.router,
    organizations.router,
    experiments.router,
    executions.router,
    events.router,
    policies.router,
    verifications.router,
)
