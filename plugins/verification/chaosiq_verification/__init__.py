"""chaosiq-verification: ``chaos verify``, ChaosIQ verifications for Chaos Toolkit.

A verification is an experiment held under its conditions for a set time while
its steady state is sampled at a fixed frequency. The timeline, the results
and the exit codes are described in ``docs/verification.md``.
"""

from __future__ import annotations

__version__ = "0.1.0"

FEATURE = "verification"
"""The feature name (entry point of group ``chaosiq``) toggled by ``chaos enable|disable``."""
