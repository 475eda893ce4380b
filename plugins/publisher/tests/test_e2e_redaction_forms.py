"""Secrets that a run writes in another form (escaped, percent-encoded, base64) or that are
short never reach the server: checked on what the real chaosiq-server stored after a real
``chaos run``."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from pubhelpers import events, executions_of, experiment, run, run_ids, write_experiment
from requests.utils import requote_uri

from chaosiq_core.redaction import MARKER

VAULT = r"C:\vault\Key-777"
CODE = "p@ss word!&x=1"
PIN = "987"
MODULE = """
import base64

def open_vault(path: str = "") -> None:
    raise ValueError(f"cannot open {path!r}")

def echo(message: str = "") -> str:
    return message

def basic(user: str = "", password: str = "") -> dict:
    return {"header": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
"""


def forms(value: str) -> dict[str, str]:
    """What ``value`` looks like after the encodings a run puts it through."""
    return {
        "as is": value,
        "repr-escaped": repr(value)[1:-1],
        "JSON-escaped": json.dumps(value)[1:-1],
        "percent-encoded": quote(value, safe=""),
        "percent-encoded by requests": requote_uri(value),
        "form-encoded": quote_plus(value),
        "base64": base64.b64encode(value.encode()).decode().rstrip("="),
    }


def strings(node: Any) -> list[str]:
    """Every string (keys too) of a stored document; an event's ``data`` (JSON text) is read too."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    if isinstance(node, str):
        if node[:1] in "{[":
            try:
                return [node, *strings(json.loads(node))]
            except ValueError:
                pass
        return [node]
    return []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_secrets_in_escaped_encoded_and_short_forms_are_not_stored(
    team_settings, env: dict[str, str], tmp_path: Path
) -> None:
    team, settings = team_settings
    folder = tmp_path / "forms"
    folder.mkdir()
    (folder / "formsmod.py").write_text(MODULE)
    url = f"http://127.0.0.1:{closed_port()}/items?key=${{code}}&x=1"
    py = lambda name, func, **args: {"type": "action", "name": name, "secrets": ["vault"],  # noqa: E731
                                     "provider": {"type": "python", "module": "formsmod", "func": func,
                                                  "arguments": args}}  # fmt: skip
    doc = experiment(0, extra={"title": "vault pin ${pin}"})
    doc["secrets"] = {"vault": {"path": VAULT, "pin": PIN, "code": {"type": "env", "key": "PUB_TEST_CODE"}}}
    doc["method"] = [
        py("open-the-vault", "open_vault", path="${path}"),  # raises: the path repr-escaped
        {"type": "action", "name": "call-the-api", "secrets": ["vault"],  # fails: the URL percent-encoded
         "provider": {"type": "http", "url": url, "timeout": 3, "arguments": {"code": "${code}"}}},
        py("say-the-pin", "echo", message="pin ${pin}"),  # output filled in from a 3-character secret
        py("the-pin", "echo", message="${pin}"),  # output: the 3-character secret itself
        py("authorization", "basic", user="admin", password="${code}"),  # output: base64 of user:code
    ]  # fmt: skip
    exp = write_experiment(folder, doc)
    result = run(settings, exp, {**env, "PYTHONPATH": str(folder), "PUB_TEST_CODE": CODE})
    local = (folder / "journal.json").read_text()
    # the run really wrote each secret in each of these forms (what the server must not get)
    written = (
        json.dumps(repr(VAULT))[1:-1],
        "p@ss%20word!&x=1",
        "p%40ss+word%21%26x%3D1",
        '"pin 987"',
        '"987"',
    )
    for needle in (*written, '"vault pin 987'):
        assert needle in local, (needle, result.stderr)
    assert base64.b64encode(f"admin:{CODE}".encode()).decode() in local

    eid, _xid = run_ids(exp)
    (xn,) = executions_of(team, eid)
    stored = [
        team.api("GET", f"/experiments/{eid}").json(),
        team.api("GET", f"/executions/{xn['id']}").json(),
        *events(team, xn),
    ]
    found = strings(stored)
    assert any("open-the-vault" in s for s in found) and any(s == "activity-finished" for s in found)
    assert any(MARKER in s for s in found)
    basic = base64.b64encode(f"admin:{CODE}".encode()).decode()
    leaked = [
        *((secret, name) for secret in (VAULT, CODE) for name, form in forms(secret).items()
          if any(form in s for s in found)),
        *(("Basic admin:code", s) for s in found if basic[8:-4] in s),  # the part the code fixes
        # the 3-character secret: never a whole value, never quoted, nor what was filled in from it
        *((PIN, s) for s in found if s in (PIN, "pin 987") or "'987'" in s or '"987"' in s),
        *(("title", s) for s in found if "vault pin 987" in s),
    ]  # fmt: skip
    assert leaked == []
