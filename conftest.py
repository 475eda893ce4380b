pytest_plugins = ["chaosiq_core.testing"]
