"""The original's ``chaoscloud.tolerances`` (console-generated verifications name it)."""
