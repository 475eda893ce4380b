"""Tolerances usable in any experiment (``…tolerances.http``, ``…tolerances.prometheus``)."""
