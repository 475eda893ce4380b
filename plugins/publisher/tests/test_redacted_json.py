"""The one-pass redacted encoding the worker uses (``Redactor.encode``) gives what the full walk gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaosiq_core.redaction import MARKER, Redactor
from chaosiq_core.serialize import dumps

SECRET = "s3cr3t-value"
ACTIVITY = {"type": "action", "name": "a", "provider": {"type": "python", "module": "os.path",
            "func": "exists", "arguments": {"path": "/"}}}  # fmt: skip
DOCS: list[Any] = [
    ACTIVITY,
    {"status": "succeeded", "output": True, "duration": 0.001, "activity": ACTIVITY},
    {"arguments": {"url": f"http://x/?q={SECRET}"}},
    {"arguments": {"Password": "hunter22"}},
    {"extensions": [{"name": "chaosiq", "experiment_path": "/home/me/exp.json"}]},
    {"secrets": {"k8s": {"token": {"type": "env", "key": "TOKEN"}, "literal": "abcd1234"}}},
    [1, 2.5, None, "plain"],
    None,
]


def redactor(*secrets: str) -> Redactor:
    return Redactor.for_run(None, secrets={"app": {f"s{i}": v for i, v in enumerate(secrets)}})


@pytest.mark.parametrize("doc", DOCS)
def test_encode_equals_the_full_walk(doc: Any) -> None:
    red = redactor(SECRET)
    text, _clean = red.encode(doc)
    assert json.loads(text) == json.loads(dumps(red(doc)))
    assert SECRET not in text


def test_clean_document_is_encoded_once_and_secrets_are_still_replaced() -> None:
    red = redactor(SECRET)
    assert red.encode(ACTIVITY) == (dumps(ACTIVITY), True)
    out = json.loads(red.encode({"arguments": {"api_key": "k-123456", "note": f"x {SECRET} y"}})[0])
    assert out == {"arguments": {"api_key": MARKER, "note": f"x {MARKER} y"}}


def test_secret_that_json_escapes_still_redacted() -> None:
    quoted = 'pa"ss\\word'
    red = redactor(quoted)
    assert json.loads(red.encode({"arg": f"<{quoted}>"})[0]) == {"arg": f"<{MARKER}>"}
