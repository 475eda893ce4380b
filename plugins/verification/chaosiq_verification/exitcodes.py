"""The exit codes of ``chaos verify`` (a module of its own: ``chaos --help`` reads it)."""

from __future__ import annotations

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_DEVIATED = 3
EXIT_INTERRUPTED = 4

EXIT_CODES_HELP = (
    "Exit codes: 0 passed; 1 failed (the steady state was not met before the "
    "conditions, or a probe, action or the method errored); 2 invalid (bad SOURCE, options or "
    "verification block); 3 deviated (a sample or the after-method steady state was out of "
    "tolerance); 4 interrupted (Ctrl-C, SIGTERM or a safeguard)."
)
