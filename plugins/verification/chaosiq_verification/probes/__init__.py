"""Probes usable in any experiment (``chaosiq_verification.probes.http``)."""
