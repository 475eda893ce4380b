"""Secret values are redacted in the forms they take on the way out, and what is not caught."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import time
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import pytest
from requests.utils import requote_uri

from chaosiq_core.redaction import MARKER, Redactor
from chaosiq_core.serialize import dumps

SECRETS = [
    r"C:\vault\Key-777",  # a backslash: doubled by repr and by JSON
    "p@ss word!&x=1",  # a space, & and =: percent- and form-encoded differently
    'it\'s "quoted"\tand\nlines',  # quotes and control characters
    "pässwörd-ñ",  # non-ASCII: \u00e4 in JSON, \xe4 in ascii(), %C3%A4 in URLs
    "emoji😀-key",  # beyond the BMP: a surrogate pair in JSON, \U0001f600 in ascii()
    "100%+sure/1",  # % + /: percent-encoding's own characters
]


def forms(value: str) -> dict[str, str]:
    """The forms a secret takes on the way out, each as a library writes it."""
    raw = value.encode()
    return {
        "as is": value,
        "JSON-escaped": json.dumps(value, ensure_ascii=False)[1:-1],
        "JSON-escaped, ASCII only": json.dumps(value)[1:-1],
        "Python repr": repr(value)[1:-1],
        "Python ascii()": ascii(value)[1:-1],
        "repr of a repr": repr(repr(value))[1:-1],
        "JSON of a repr": json.dumps(repr(value))[1:-1],
        "percent-encoded": quote(value, safe=""),
        "percent-encoded, path": quote(value),
        "percent-encoded by requests": requote_uri(value),
        "form-encoded": quote_plus(value),
        "form-encoded by urlencode": urlencode({"k": value})[2:],
        "HTML-escaped": html.escape(value),
        "JSON-escaped as Go writes it": json.dumps(value)[1:-1]
        .replace("&", "\\u0026")
        .replace("<", "\\u003c"),
        "base64": base64.b64encode(raw).decode(),
        "base64, URL-safe, unpadded": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def leaks(text: str, value: str) -> list[str]:
    """The forms of ``value`` found in ``text`` (JSON text: a form is also looked for JSON-escaped)."""
    return [
        name
        for name, form in forms(value).items()
        if form in text or json.dumps(form, ensure_ascii=False)[1:-1] in text
    ]


CASES = [(s, name) for s in SECRETS for name in forms(s)]


@pytest.mark.parametrize(("secret", "form"), CASES, ids=[f"{i}-{f}" for i, (_, f) in enumerate(CASES)])
def test_every_form_of_a_secret_is_redacted(secret: str, form: str) -> None:
    red = Redactor([secret])
    written = forms(secret)[form]
    doc = {"output": f"error: {written} (end)", "list": [written], "nested": {"exception": [f"E: {written}"]}}
    text, clean = red.encode(doc)
    assert not clean
    assert leaks(text, secret) == []
    out = json.loads(text)
    assert out == red(doc)  # the one-pass encoding sends what the walk gives
    assert out["list"][0].strip("'\"\\") == MARKER  # a repr's quotes may stay around it
    assert (
        out["output"].startswith("error: ") and out["output"].endswith(" (end)") and MARKER in out["output"]
    )


@pytest.mark.parametrize("secret", SECRETS)
def test_the_text_around_a_secret_is_kept(secret: str) -> None:
    red = Redactor([secret])
    assert red.redact_text(f"cannot open {secret!r}: denied") == f"cannot open '{MARKER}': denied"
    assert red.redact_text(f"GET /x?k={quote_plus(secret)}&y=2") == f"GET /x?k={MARKER}&y=2"


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("prefix", ["u:", "us:", "usr:"])  # the value starts at each offset of a base64 group
def test_base64_of_a_secret_inside_a_longer_base64_text_is_redacted(secret: str, prefix: str) -> None:
    encoded = base64.b64encode(f"{prefix}{secret}".encode()).decode()  # a Basic authorization header
    out = Redactor([secret]).redact_text(f"Authorization: Basic {encoded}")
    assert MARKER in out and encoded not in out
    kept = out.removeprefix("Authorization: Basic ").replace(MARKER, "").rstrip("=")
    assert len(kept) <= len(prefix) * 4 // 3 + 4  # only characters of the prefix and the value's edges


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_a_secret_escaped_up_to_four_levels_deep_is_redacted(depth: int) -> None:
    secret = 'it\'s "C:\\vault"\tKéy'
    written = secret
    for level in range(depth):
        written = repr(written) if level % 2 else json.dumps(written)
    out = Redactor([secret]).redact_text(f"x {written} y")
    assert MARKER in out and leaks(out, secret) == [] and "vault" not in out


def test_a_secret_in_a_key_is_redacted() -> None:
    red = Redactor(["p@ss word!&x=1"])
    assert red({"users": {"admin:p@ss word!&x=1": 1}}) == {"users": {f"admin:{MARKER}": 1}}


def test_two_overlapping_secrets_are_one_replacement() -> None:
    assert Redactor(["abcdef", "defghi"]).redact_text("x abcdefghi y") == f"x {MARKER} y"


# ----------------------------------------------------------------- short values


def test_a_short_secret_is_redacted_as_a_whole_value_or_between_quotes() -> None:
    red = Redactor(["987"])
    doc = {
        "output": "987",
        "list": ["987", 987],
        "message": "invalid pin '987'",
        "body": 'got {"pin": "987"}',
        "987": "a key",
    }
    assert not red.encode(doc)[1]
    assert red(doc) == {
        "output": MARKER,
        "list": [MARKER, MARKER],
        "message": f"invalid pin {MARKER}",
        "body": f'got {{"pin": {MARKER}}}',
        MARKER: "a key",
    }


def test_a_short_secret_inside_other_text_is_deliberately_kept() -> None:
    red = Redactor(["987"])
    doc = {"order": "order 19876", "at": "2026-01-01T10:09:08.987+00:00", "n": 9870, "x": "pin=987&y"}
    text, clean = red.encode(doc)
    assert clean and json.loads(text) == doc


def test_a_short_secret_written_in_another_form_is_redacted_as_a_whole_value() -> None:
    red = Redactor(["a b"])
    assert red({"q": "a%20b", "f": "a+b", "other": "a b c"}) == {"q": MARKER, "f": MARKER, "other": "a b c"}


# ----------------------------------------------------------------- what a run's redactor knows


def test_for_run_collects_every_secret_value() -> None:
    experiment = {
        "secrets": {"app": {"inline": "inline-value-1", "ref": {"type": "env", "key": "X"}}},
        "configuration": {"db": {"type": "env", "key": "DB"}, "plain": "public-value"},
    }
    red = Redactor.for_run(
        experiment,
        secrets={"app": {"inline": "inline-value-1", "ref": "env-value-2"}},
        configuration={"db": "conf-value-3", "plain": "public-value"},
        settings={"auths": {"h": {"type": "bearer", "value": "token-value-4"}}},
    )
    doc = {"text": "inline-value-1 env-value-2 conf-value-3 token-value-4 public-value"}
    assert red(doc) == {"text": f"{MARKER} {MARKER} {MARKER} {MARKER} public-value"}


def test_a_string_filled_in_from_a_short_secret_is_a_secret_value() -> None:
    experiment = {
        "title": "pin ${pin}",
        "secrets": {"device": {"pin": "987"}},
        "method": [{"type": "action", "name": "a", "provider": {"type": "python", "module": "m", "func": "f",
                    "arguments": {"message": "pin ${pin}", "auth": "user:${pin}", "n": "${count}"}}}],
        "configuration": {"count": 3},
    }  # fmt: skip
    red = Redactor.for_run(experiment, secrets={"device": {"pin": "987"}}, configuration={"count": 3})
    basic = base64.b64encode(b"user:987").decode()
    doc = {
        "title": "pin 987",
        "output": "pin 987",
        "log": "sent pin 987 to the device",
        "header": f"Basic {basic}",
    }
    assert red(doc) == {"title": MARKER, "output": MARKER, "log": f"sent {MARKER} to the device",
                        "header": f"Basic {MARKER}"}  # fmt: skip
    # the templates themselves are the experiment's, not secrets
    assert red(experiment)["method"][0]["provider"]["arguments"]["message"] == "pin ${pin}"
    assert red(experiment)["title"] == "pin ${pin}"


def test_without_loaded_secrets_the_inline_ones_are_filled_in() -> None:
    """``chaos publish JOURNAL`` knows only the experiment."""
    experiment = {
        "title": "pin ${pin}",
        "secrets": {"device": {"pin": "987", "k": {"type": "env", "key": "K"}}},
    }
    red = Redactor.for_run(experiment)
    assert red({"output": "pin 987", "raw": "987"}) == {"output": MARKER, "raw": MARKER}
    assert red({"title": "pin ${pin}"}) == {"title": "pin ${pin}"}


def test_a_template_left_unfilled_is_not_a_secret_value() -> None:
    experiment = {"title": "token ${tok}", "secrets": {"s": {"tok": {"type": "env", "key": "TOK"}}}}
    red = Redactor.for_run(experiment, secrets={})
    assert red({"t": "token ${tok}"}) == {"t": "token ${tok}"}


# ----------------------------------------------------------------- deliberately not caught

NOT_CAUGHT = {
    "percent-encoded twice": lambda v: quote(quote(v, safe=""), safe=""),
    "hexadecimal": lambda v: v.encode().hex(),
    "upper case": lambda v: v.upper(),
    "a part of it": lambda v: v[: len(v) // 2 + 1],
    "a hash of it": lambda v: hashlib.sha256(v.encode()).hexdigest(),
    "base64 of its JSON form": lambda v: base64.b64encode(json.dumps(v).encode()).decode(),
    "reversed": lambda v: v[::-1],
    "escaped five levels deep": lambda v: repr(repr(repr(repr(repr(v))))),
}


@pytest.mark.parametrize("name", NOT_CAUGHT)
def test_what_is_deliberately_not_caught(name: str) -> None:
    """docs/publisher.md lists these: a changed value is not the secret's form any more."""
    secret = r"C:\vault\Key 777"
    written = NOT_CAUGHT[name](secret)
    red = Redactor([secret])
    doc = {"output": f"x {written} y"}
    assert red(doc) == doc


# ----------------------------------------------------------------- cost and safety


def test_a_clean_document_is_encoded_once() -> None:
    red = Redactor([*SECRETS, "987"])
    doc = {"type": "action", "name": "a", "output": {"status": 200, "body": "ok, 42 items"}}
    text, clean = red.encode(doc)
    assert clean and text == dumps(doc)


def test_no_text_makes_the_search_slow() -> None:
    """Escapes are matched with bounded repetitions: a huge run of backslashes is linear work."""
    red = Redactor(['Key-7\\\\"x', "ab\\cd"])
    texts = ["Key-7" + "\\" * 200_000, "ab" + "\\%5C" * 50_000 + "cd", "Key-7" + '\\"' * 100_000]
    start = time.perf_counter()
    for text in texts:
        red.redact_text(text)
        red.is_clean(text)
    assert time.perf_counter() - start < 2.0


def test_secrets_block_keeps_references_and_drops_values() -> None:
    red = Redactor(["inline-value-1"])
    doc: dict[str, Any] = {"secrets": {"s": {"a": "inline-value-1", "b": {"type": "env", "key": "B"}}}}
    assert red(doc) == {"secrets": {"s": {"a": MARKER, "b": {"type": "env", "key": "B"}}}}
