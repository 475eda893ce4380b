"""HTTP routes, one router per area of the API; each sets its path prefix and tag once.

``API_ROUTERS`` is what ``create_app`` includes, before the console;
``meta.probe_router`` (``/`` for an app without the console) comes after it.
"""

from __future__ import annotations

from . import audit, events, executions, experiments, history, meta, organizations, policies, verifications

# The busiest first (a request is matched against the routes in order): a run's
# events, its safeguard checks, then the rest.
API_ROUTERS = (
    events.router,
    policies.router,
    executions.router,
    experiments.router,
    verifications.router,
    history.router,
    organizations.router,
    audit.router,
    meta.router,
)
