"""The read model behind the instances list, on SQLite and PostgreSQL: exact variable matches
(both plan spellings on PostgreSQL) and keyset pages that neither skip nor repeat a row."""

from __future__ import annotations

import pytest

import engine.monitoring as monitoring

TINY = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="tiny" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f" sourceRef="start" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, settings_factory):  # type: ignore[no-untyped-def]
    import migrations
    from engine import Engine

    if request.param == "postgresql":
        settings = settings_factory(database_url=request.getfixturevalue("postgres_url"))
    else:
        settings = settings_factory()
    migrations.upgrade(settings.database_url)
    eng = Engine(settings, notifier=lambda tickets: None)
    eng.deploy([("tiny.bpmn", TINY)])
    for n in range(23):
        eng.start("tiny", {"amount": n % 5, "tier": "gold" if n % 2 else "silver", "tags": ["a", f"t{n}"],
                           "address": {"city": "Lyon" if n < 3 else "Oslo"}, "code": str(n % 5)},
                  business_key=f"k{n}")
    yield eng
    eng.close()


@pytest.mark.parametrize("many", [10_000, 2])  # 2: PostgreSQL takes the "many rows match" spelling
def test_variable_filter_matches_exact_values_only(engine, many, monkeypatch):
    monkeypatch.setattr(monitoring, "MANY", many)

    def total(name: str, value: str) -> int:
        return engine.find_instances(variable=name, value=value, limit=100)["total"]

    assert total("tier", "gold") == 11
    assert total("amount", "3") == 4  # n = 3, 8, 13, 18
    assert total("code", "3") == 4  # typed unquoted, it still finds the text "3"
    assert total("code", '"3"') == 4
    assert total("amount", '"3"') == 0  # amount is a number
    assert total("tags", "a") == 0  # a list that contains "a" is not equal to "a"
    assert total("tags", '["a", "t4"]') == 1
    assert total("address", '{"city": "Lyon"}') == 3
    assert len(engine.find_instances(variable="tier", value="gold", limit=4)["items"]) == 4


def test_keyset_pages_walk_every_instance_once_both_ways(engine):
    for sort in ("started", "updated", "status"):
        for descending in (True, False):
            seen, page = [], engine.find_instances(limit=5, sort=sort, descending=descending)
            pages = [page]
            while page["next"]:
                page = engine.find_instances(limit=5, sort=sort, descending=descending, after=page["next"])
                pages.append(page)
            seen = [i["id"] for p in pages for i in p["items"]]
            assert len(seen) == len(set(seen)) == 23 and pages[0]["prev"] is None
            back = engine.find_instances(limit=5, sort=sort, descending=descending, before=pages[-1]["prev"])
            assert [i["id"] for i in back["items"]] == [i["id"] for i in pages[-2]["items"]]
