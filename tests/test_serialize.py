"""Tolerant JSON encoding (orjson, the standard encoder for what orjson refuses)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid

import pytest

from chaosiq_core.serialize import dumps, loads, to_jsonable


class Dry(enum.Enum):
    ACTIONS = "actions"


def test_what_chaos_toolkit_puts_in_a_journal_is_encoded() -> None:
    when = dt.datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=dt.timezone.utc)
    doc = {
        "when": when,
        "day": dt.date(2026, 11, 27),
        "amount": decimal.Decimal("1.10"),
        "id": uuid.UUID(int=1),
        "dry": Dry.ACTIONS,
        "tags": {"b"},
        "pair": (1, 2),
        "raw": b"bytes",
        "error": ValueError("boom"),
        "odd": object.__new__(type("Odd", (), {"__str__": lambda self: "odd"})),
        1: "int key",
        None: "none key",
    }
    back = json.loads(dumps(doc))
    assert back["when"] == when.isoformat() and back["day"] == "2026-11-27"
    assert back["amount"] == "1.10" and back["id"] == str(uuid.UUID(int=1)) and back["dry"] == "actions"
    assert back["tags"] == ["b"] and back["pair"] == [1, 2] and back["raw"] == "bytes"
    assert back["error"] == "ValueError: boom" and back["odd"] == "odd"
    assert back["1"] == "int key" and back["null"] == "none key"  # as json.dumps names them


def test_output_is_json_a_server_accepts() -> None:
    text = dumps({"nan": float("nan"), "inf": float("inf"), "é": "✓"})
    assert json.loads(text) == {"nan": None, "inf": None, "é": "✓"}  # not NaN: that is not JSON
    assert "✓" in text  # UTF-8, not \\u escapes


def test_what_orjson_refuses_goes_through_the_standard_encoder() -> None:
    big = 2**70
    assert json.loads(dumps({"big": big})) == {"big": big}
    assert to_jsonable({"big": big, "t": (1,)}) == {"big": big, "t": [1]}
    assert json.loads(dumps({"s": "\ud800"})) == {"s": "\ud800"}  # a lone surrogate
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps(loop)


def test_keyword_arguments_keep_json_dumps_behaviour() -> None:
    assert dumps({"b": 1, "a": 2}, sort_keys=True, indent=1) == '{\n "a": 2,\n "b": 1\n}'


def test_loads_reads_what_either_encoder_wrote() -> None:
    big = 2**70
    assert loads(dumps({"n": big, "s": "é"})) == {"n": big, "s": "é"}
    assert loads(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    with pytest.raises(ValueError):
        loads("{nope")
