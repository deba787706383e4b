"""The bus routes file: JSON paths, topic patterns, what a route makes of an event, clear refusals."""

from __future__ import annotations

import pytest

from adapters.bus_routes import BusRoutes, JsonPath, PathError, RouteError, topic_matches
from engine import ConfigurationError
from tests.conftest import PROCESSES

EVENT = {"event": "OrderShipped", "event_id": "e-1", "business_key": "bk-9",
         "correlation": {"order_id": "o-1"}, "order": {"lines": [{"sku": "A"}, {"sku": "B"}], "a.b": 1},
         "variables": {"carrier": "DHL"}}


def test_json_paths_name_exactly_one_value() -> None:
    assert JsonPath.parse("$").find(EVENT) is EVENT
    assert JsonPath.parse("$.correlation.order_id").find(EVENT) == "o-1"
    assert JsonPath.parse("$.order.lines[1].sku").find(EVENT) == "B"
    assert JsonPath.parse("$.order.lines[-1]['sku']").find(EVENT) == "B"
    assert JsonPath.parse('$.order["a.b"]').find(EVENT) == 1
    with pytest.raises(PathError, match="no 'nope'"):
        JsonPath.parse("$.correlation.nope").find(EVENT)
    with pytest.raises(PathError):
        JsonPath.parse("$.order.lines[5]").find(EVENT)
    for bad in ("correlation.order_id", "$..order", "$.order[*]", "$.a b"):
        with pytest.raises(ValueError):
            JsonPath.parse(bad)


def test_topic_patterns_match_like_amqp() -> None:
    assert topic_matches("OrderShipped", "OrderShipped")
    assert not topic_matches("OrderShipped", "OrderShipped.eu")
    assert topic_matches("orders.*.shipped", "orders.eu.shipped")
    assert not topic_matches("orders.*.shipped", "orders.shipped")
    assert topic_matches("orders.#", "orders")
    assert topic_matches("orders.#", "orders.eu.shipped")
    assert topic_matches("#.shipped", "orders.eu.shipped")


def test_a_route_turns_an_event_into_a_message() -> None:
    routes = BusRoutes.from_dict({
        "routes": {
            "parcel": {"routing_key": "orders.#", "event_type": "ParcelShipped", "message": "ParcelShipped",
                       "correlate": {"order_id": "$.correlation.order_id"}},
            "OrderShipped": {"correlate": {"order_id": "$.correlation.order_id"}, "variables": "$.variables",
                             "business_key": "$.business_key", "ttl": 30},
            "picked": {"routing_key": "orders.#", "message": "OrderPicked",
                       "variables": {"first_sku": "$.order.lines[0].sku", "absent": "$.nope"},
                       "event_id": "$.id"},
        },
    })
    assert routes.binding_keys == ["orders.#", "OrderShipped"]
    shipped = routes.match("OrderShipped", EVENT)
    assert shipped is not None and shipped.name == "OrderShipped"
    inbound = shipped.extract(EVENT)
    assert (inbound.message, inbound.correlation, inbound.variables, inbound.business_key, inbound.event_id,
            inbound.ttl_seconds) == ("OrderShipped", {"order_id": "o-1"}, {"carrier": "DHL"}, "bk-9", "e-1", 30.0)
    # on one routing key, the event type picks the route; the first match in file order wins
    assert routes.match("orders.eu", {**EVENT, "event": "ParcelShipped"}).name == "parcel"
    picked = routes.match("orders.eu", EVENT)
    assert picked is not None and picked.name == "picked"
    inbound = picked.extract(EVENT, message_id="amqp-id")
    assert inbound.variables == {"first_sku": "A"} and inbound.correlation == {}
    assert inbound.event_id == "amqp-id"  # no $.id in the event: the broker's message id
    assert routes.match("other", EVENT) is None
    with pytest.raises(RouteError, match="correlation key 'order_id' missing"):
        shipped.extract({"event_id": "e-2"})
    with pytest.raises(RouteError, match="not an object"):
        shipped.extract({**EVENT, "variables": [1, 2]})


def test_outbound_variables_are_chosen() -> None:
    routes = BusRoutes.from_dict({"publish": {"OrderCreated": {"routing_key": "orders.created",
                                                                "variables": ["order_id", "amount"]}}})
    out = routes.outbound_for("OrderCreated")
    assert out.routing_key == "orders.created"
    assert out.select({"order_id": "o", "amount": 3, "card": "4111"}) == {"order_id": "o", "amount": 3}
    other = routes.outbound_for("Anything")
    assert other.routing_key == "Anything" and other.select({"x": 1}) == {"x": 1}


@pytest.mark.parametrize(("data", "needle"), [
    ({"route": {}}, "unknown table(s) ['route']"),
    ({"routes": {"X": {"corelate": {}}}}, "[routes.X]: unknown key(s) ['corelate']"),
    ({"routes": {"X": {"correlate": {"id": "id"}}}}, "[routes.X] correlate.id: 'id' is not a JSON path"),
    ({"routes": {"X": {"variables": 3}}}, "[routes.X] variables"),
    ({"routes": {"X": {"ttl": -1}}}, "[routes.X] ttl"),
    ({"bus": {"prefetch": 0}}, "[bus] prefetch"),
    ({"publish": {"M": {"routing_key": "a.*"}}}, "[publish.M] routing_key"),
    ({"publish": {"M": {"variables": "order_id"}}}, "[publish.M] variables"),
    ({"watch": {"W": {}}}, "[watch.W] correlate: must name at least one correlation key"),
    ({"watch": {"W": {"correlate": {"id": "$.id"}, "ttl": 3}}}, "[watch.W]: unknown key(s) ['ttl']"),
    ({"watch": {"W": {"correlate": {"id": "id"}}}}, "[watch.W] correlate.id: 'id' is not a JSON path"),
    ({"bus": {"watch_queue": "baton.bus"}}, "[bus] watch_queue: must differ from queue 'baton.bus'"),
    ({"bus": {"source_path": "source"}}, "[bus] source_path"),
])
def test_mistakes_are_refused_with_their_place(data: dict, needle: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        BusRoutes.from_dict(data, "routes.toml")
    assert str(refused.value).startswith("routes.toml: ") and needle in str(refused.value)


def test_the_bundled_routes_file_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    routes = BusRoutes.load(PROCESSES / "bus_routes.toml")
    assert routes.queue == "baton.bus" and routes.dead_letter == "baton.bus.dead"
    assert routes.binding_keys == ["OrderShipped"]
    assert "order_id" in (routes.outbound_for("OrderCreated").variables or ())
    assert routes.watch_keys == ["CustomerNotified"] and routes.watch_queue == "baton.bus.watch"
    watch = routes.watch_match("CustomerNotified", {"event": "CustomerNotified"})
    assert watch is not None and routes.watch_match("OrderShipped", {}) is None
    assert watch.keys({"correlation": {"order_id": "o-7"}, "business_key": "bk"}) == ({"order_id": "o-7"}, "bk")
    assert watch.keys({"correlation": {}}) == ({}, None)  # what an event lacks is left out, not refused
    assert routes.source_path.get({"source": "shipping"}) == "shipping"
    with pytest.raises(ConfigurationError, match="does not exist"):
        BusRoutes.load(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[routes.X\n")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        BusRoutes.load(broken)


def test_baton_bus_checks_its_routes_and_refuses_without_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import baton_cli

    env = {"BATON_HOME": str(tmp_path), "BATON_BUS_URL": "", "BATON_BUS_ROUTES": str(PROCESSES / "bus_routes.toml")}
    checked = baton_cli("bus", "--check", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "OrderShipped -> message OrderShipped [order_id=$.correlation.order_id]" in checked.stdout
    assert "CustomerNotified -> watched on baton.bus.watch" in checked.stdout
    assert "message OrderCreated -> publishes with routing key OrderCreated" in checked.stdout
    assert "queue baton.bus on exchange baton.events; dead letters: baton.bus.dead" in checked.stdout
    refused = baton_cli("bus", env=env)
    assert refused.returncode == 1 and "BATON_BUS_URL is not set" in refused.stderr
    broken = tmp_path / "routes.toml"
    broken.write_text('[routes.X]\ncorrelate = { id = "id" }\n')
    refused = baton_cli("bus", "--check", env={**env, "BATON_BUS_ROUTES": str(broken)})
    assert refused.returncode == 1 and "[routes.X] correlate.id: 'id' is not a JSON path" in refused.stderr
