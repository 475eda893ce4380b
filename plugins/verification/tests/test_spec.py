"""Validation of the verification block: the original's messages plus type and range checks."""

from __future__ import annotations

import pytest
from chaosiq_verification.spec import InvalidVerification, ensure_verification_is_valid, parse_verification

from .conftest import verification_doc


def _with_block(block: object) -> dict:
    doc = verification_doc()
    doc["extensions"] = [{"name": "chaosiq", "verification": block}]
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"extensions": []}, "a verification must have an extensions block"),
        (
            {"extensions": [{"name": "chaosiq"}, {"name": "chaosiq"}]},
            "a verification must have a single chaosiq extension block",
        ),
        ({"extensions": [{"name": "other"}]}, "a verification must have a single chaosiq extension block"),
        ({"extensions": [{"name": "chaosiq"}]}, "a verification must have a verification block"),
        (_with_block({"frequency-of-measurement": 1}), "a verification must have an id"),
        (
            _with_block({"id": "x", "duration-of-conditions": 1}),
            "a verification must have a frequency-of-measurement block",
        ),
        (
            _with_block({"id": "x", "frequency-of-measurement": 1}),
            "a verification must have a duration-of-conditions block",
        ),
    ],
)
def test_original_messages(doc: dict, message: str) -> None:
    with pytest.raises(InvalidVerification) as err:
        parse_verification(doc)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("frequency-of-measurement", 0, "must be greater than 0"),
        ("frequency-of-measurement", -1, "must be greater than 0"),
        ("duration-of-conditions", -0.5, "must not be negative"),
        ("warm-up-duration", -2, "must not be negative"),
        ("cool-down-duration", "2", "must be a number of seconds"),
        ("duration-of-conditions", {"seconds": 10}, "must be a number of seconds"),
        ("warm-up-duration", True, "must be a number of seconds"),
        ("duration-of-conditions", float("nan"), "finite"),
    ],
)
def test_types_and_ranges(key: str, value: object, fragment: str) -> None:
    doc = verification_doc()
    doc["extensions"][0]["verification"][key] = value
    with pytest.raises(InvalidVerification) as err:
        parse_verification(doc)
    assert fragment in str(err.value) and key in str(err.value)


def test_valid_block_is_read_in_seconds() -> None:
    doc = verification_doc(warm_up=1, frequency=0.5, conditions=3, cool_down=2)
    doc["extensions"][0].update({"experiment_id": "e1", "team_id": "t1"})
    spec = ensure_verification_is_valid(doc)
    assert (spec.id, spec.warm_up, spec.frequency, spec.duration_of_conditions, spec.cool_down) == (
        "verif-1",
        1.0,
        0.5,
        3.0,
        2.0,
    )
    assert (spec.experiment_id, spec.team_id) == ("e1", "t1")


def test_optional_durations_default_to_zero_and_id_optional_without_validation() -> None:
    doc = verification_doc(vid=None)
    block = doc["extensions"][0]["verification"]
    del block["warm-up-duration"], block["cool-down-duration"]
    spec = parse_verification(doc, require_id=False)
    assert spec.id is None and spec.warm_up == 0.0 and spec.cool_down == 0.0


def test_steady_state_probes_are_required() -> None:
    doc = verification_doc()
    del doc["steady-state-hypothesis"]
    with pytest.raises(InvalidVerification, match="steady-state hypothesis"):
        ensure_verification_is_valid(doc)
