"""The demo services' faults the chaos suite relies on: ``match`` and ``lose_answer``."""

from __future__ import annotations

import httpx
import pytest

from processes.services.server import start_in_thread


@pytest.fixture
def base_url():  # type: ignore[no-untyped-def]
    server, url = start_in_thread()
    try:
        yield url
    finally:
        server.shutdown()


def test_a_lost_answer_applies_the_effect_once_and_the_retry_with_the_same_key_gets_it(base_url):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=base_url, timeout=5, trust_env=False) as http:
        assert http.post("/_control/fail", json={"path": "/payment/charge", "mode": "lose_answer",
                                                 "match": {"lose": True}}).status_code == 200
        headers = {"Idempotency-Key": "k-1", "X-Baton-Instance-Id": "i-1"}
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/payment/charge", json={"amount": 5, "lose": True}, headers=headers)
        retry = http.post("/payment/charge", json={"amount": 5, "lose": True}, headers=headers)
        assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
        untouched = http.post("/payment/charge", json={"amount": 6, "lose": False}, headers={"Idempotency-Key": "k-2"})
        assert untouched.status_code == 200
        record = http.get("/_control/calls").json()
    assert [(c["idempotency_key"], c["status"], c["outcome"]) for c in record["calls"]] == [
        ("k-1", None, "lose_answer"), ("k-1", 200, "replayed"), ("k-2", 200, "ok")]
    assert [e["idempotency_key"] for e in record["effects"]] == ["k-1", "k-2"]
    assert retry.json() == record["effects"][0]["response"]


def test_rules_with_different_matches_share_a_path_and_the_first_installed_wins(base_url):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=base_url, timeout=5, trust_env=False) as http:
        for rule in ({"path": "/shipping/create", "mode": "bpmn_error", "match": {"scenario": "ship_fail"}},
                     {"path": "/shipping/create", "mode": "lose_answer", "match": {"lose": True}}):
            assert http.post("/_control/fail", json=rule).status_code == 200
        assert len(http.get("/_control/fail").json()["rules"]) == 2
        both = http.post("/shipping/create", json={"scenario": "ship_fail", "lose": True},
                         headers={"Idempotency-Key": "a"})
        assert both.status_code == 422 and both.json()["error"]["code"] == "SHIPPING_UNAVAILABLE"
        plain = http.post("/shipping/create", json={"scenario": "ok"}, headers={"Idempotency-Key": "b"})
        assert plain.status_code == 200
        assert http.post("/_control/fail", json={"path": "/shipping/create", "mode": "none"}).status_code == 200
        assert http.get("/_control/fail").json()["rules"] == []
