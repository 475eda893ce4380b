"""CloudEvents in HTTP binary mode (``ce-*`` headers, the data as the body) on ``POST …/events``."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent
from server_helpers import CE_HEADERS, cloud_event
from test_ingest import _execution


def _events_url(c: Any, a: Any) -> str:
    eid, xid = _execution(c, a)
    return f"{a.base}/experiments/{eid}/executions/{xid}/events"


def _listed(c: Any, a: Any, url: str) -> dict[str, dict[str, Any]]:
    items = c.get(url, headers=a.headers, params={"limit": 1000}).json()["items"]
    return {i["id"]: i for i in items}


def _sdk_binary(event_id: str, data: Any, content_type: str = "application/json") -> tuple[dict, bytes]:
    """What the CloudEvents SDK sends for an event in binary mode."""
    event = CloudEvent(
        attributes={
            "specversion": "1.0",
            "id": event_id,
            "type": "activity-finished",
            "source": "chaos toolkit/100%",  # percent-encoded in the header
            "datacontenttype": content_type,
            "time": dt.datetime(2026, 11, 27, 14, 0, 0, 123456, tzinfo=dt.timezone.utc),
        },
        data=data,
    )
    message = ce_http.to_binary_event(event)
    return dict(message.headers), message.body


def test_an_sdk_binary_event_is_stored_like_its_structured_twin(lite):
    c, a = lite.client, lite.a
    url = _events_url(c, a)
    data = {"context": {"name": "a1"}, "state": {"status": "succeeded", "output": [1, 2.5, None]}}
    headers, body = _sdk_binary("bin-1", data)
    assert headers["ce-source"] != "chaos toolkit/100%"  # really percent-encoded on the wire
    r = c.post(url, content=body, headers={**a.headers, **headers})
    assert r.status_code == 201, r.text
    assert r.json() == {"id": "bin-1", "stored": True}
    structured = {
        **cloud_event("activity-finished", event_id="str-1"),
        "source": "chaos toolkit/100%",
        "time": "2026-11-27T14:00:00.123456Z",
        "data": data,
    }
    assert c.post(url, content=json.dumps(structured), headers={**a.headers, **CE_HEADERS}).status_code == 201
    items = _listed(c, a, url)
    binary, twin = items["bin-1"], items["str-1"]
    for key in ("type", "source", "time", "data"):
        assert binary[key] == twin[key], key
    assert binary["data"] == data
    # the same id again: acknowledged, not stored twice
    r = c.post(url, content=body, headers={**a.headers, **headers})
    assert (r.status_code, r.json()["stored"]) == (200, False)
    assert len(_listed(c, a, url)) == len(items)


def test_binary_data_that_is_not_json_is_kept(lite):
    c, a = lite.client, lite.a
    url = _events_url(c, a)
    head = {**a.headers, "ce-specversion": "1.0", "ce-type": "t", "ce-source": "s"}
    r = c.post(url, content="plain words", headers={**head, "ce-id": "text", "content-type": "text/plain"})
    assert r.status_code == 201, r.text
    blob = bytes(range(256))
    r = c.post(
        url, content=blob, headers={**head, "ce-id": "blob", "content-type": "application/octet-stream"}
    )
    assert r.status_code == 201, r.text
    r = c.post(url, content=b"", headers={**head, "ce-id": "empty"})
    assert r.status_code == 201, r.text
    items = _listed(c, a, url)
    assert items["text"]["data"] == "plain words"
    assert base64.b64decode(items["blob"]["data"]["data_base64"]) == blob
    assert items["empty"]["data"] is None


def test_bad_binary_events_get_the_structured_answers(lite):
    c, a = lite.client, lite.a
    url = _events_url(c, a)
    head = {**a.headers, "ce-specversion": "1.0", "ce-type": "t", "ce-source": "s", "ce-id": "x"}
    json_body = {**head, "content-type": "application/json"}
    # no id, an unsupported specversion, JSON data that JSON cannot store, malformed JSON
    no_id = {k: v for k, v in json_body.items() if k != "ce-id"}
    assert c.post(url, content=b"{}", headers=no_id).status_code == 422
    assert c.post(url, content=b"{}", headers={**json_body, "ce-specversion": "9.9"}).status_code == 422
    assert c.post(url, content=b'{"x": NaN}', headers=json_body).status_code == 422
    assert c.post(url, content=b'{"x": 1e999}', headers=json_body).status_code == 422
    r = c.post(url, content=b"{nope", headers=json_body)
    assert r.status_code in (400, 422), r.text
    # the token and the execution are checked as for any event
    anonymous = {k: v for k, v in json_body.items() if k.lower() != "authorization"}
    assert c.post(url, content=b"{}", headers=anonymous).status_code == 401
    assert c.post(url, content=b"{}", headers={**json_body, **lite.b.headers}).status_code == 404
    assert _listed(c, a, url) == {}


def test_a_batch_stays_structured_only(lite):
    """The CloudEvents batch format has no binary mode: ``ce-*`` headers on a batch are ignored."""
    c, a = lite.client, lite.a
    url = _events_url(c, a)
    headers = {**a.headers, "content-type": "application/cloudevents-batch+json", "ce-specversion": "1.0"}
    r = c.post(f"{url}/batch", content=json.dumps([cloud_event("t", event_id="b1")]), headers=headers)
    assert r.status_code == 200, r.text
    assert list(_listed(c, a, url)) == ["b1"]


def test_an_attribute_sent_twice_is_refused_as_a_key_twice(lite):
    """Two ``ce-id`` headers (or two Content-Types) are what a key twice is in
    structured mode: 422, not one of them silently."""
    c, a = lite.client, lite.a
    url = _events_url(c, a)
    head = [("authorization", a.headers["Authorization"]), ("ce-specversion", "1.0"), ("ce-type", "t")]
    head += [("ce-source", "s"), ("content-type", "application/json")]
    for extra in ([("ce-id", "one"), ("ce-id", "two")], [("ce-id", "x"), ("content-type", "text/plain")]):
        r = c.post(url, content=b"{}", headers=head + extra)
        assert r.status_code == 422 and "appears twice" in r.text, r.text
    assert c.get(url, headers=a.headers).json()["total"] == 0
