"""docs/writing-plugins.md's example plugin works as written: its files, taken from the page,
installed as a distribution, listed and toggled by the real `chaos`, and its own tests pass."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from recorder import install

from chaosiq_core.testing import run_chaos

DOC = Path(__file__).resolve().parent.parent / "docs" / "writing-plugins.md"
BLOCK = re.compile(r"^```(?:python|toml)\n# (?P<name>[\w/.]+\.(?:py|toml))(?P<rest>.*?)^```$", re.M | re.S)


def example_files(folder: Path) -> dict[str, Path]:
    """Write every code block that starts with ``# <file name>`` (``(continued)`` appends)."""
    written: dict[str, Path] = {}
    for block in BLOCK.finditer(DOC.read_text()):
        name = block["name"]
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if name in written else "w") as fh:
            fh.write(block["rest"].split("\n", 1)[1])
        written[name] = path
    return written


def test_the_example_plugin_of_the_docs_works(tmp_path: Path, chaos_home: Path) -> None:
    folder = tmp_path / "chaosiq-slack"
    files = example_files(folder)
    assert set(files) == {
        "pyproject.toml",
        "chaosiq_slack.py",
        "chaosiq_slack_cli.py",
        "tests/conftest.py",
        "tests/test_slack.py",
    }
    assert "@hookimpl(wrapper=True)" in files["chaosiq_slack.py"].read_text()
    (folder / "tests" / "conftest.py").rename(folder / "conftest.py")  # beside the modules under test
    site = install(tmp_path / "site", folder)
    env = {"HOME": str(chaos_home), "PYTHONPATH": str(site)}

    # the page's own tests (they run the real `chaos features` too)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
        cwd=folder, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout, tests.stdout

    # its command, and `chaos disable` as the page shows them
    settings = chaos_home / ".chaostoolkit" / "settings.yaml"
    assert run_chaos("slack-test", settings=settings, env=env).returncode == 0
    listed = run_chaos("features", "--verbose", settings=settings, env=env)
    assert "hooks: after_activity, after_hypothesis, run_configured, run_finished, settings_defaults" in (
        listed.stdout
    ), listed.stdout
    disabled = run_chaos("disable", "slack", settings=settings, env=env)
    assert disabled.stdout.strip() == f"Feature 'slack' disabled ({settings})"
    refused = run_chaos("slack-test", settings=settings, env=env)
    assert refused.returncode == 1 and "chaos enable slack" in refused.stderr, refused.stderr
