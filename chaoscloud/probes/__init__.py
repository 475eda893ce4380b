"""The original's ``chaoscloud.probes`` (console-generated verifications name it)."""
