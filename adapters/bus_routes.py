"""The bus routes file (``BATON_BUS_ROUTES``): which bus events become which Baton messages.

The format is described, with an example, in the header comment of ``processes/bus_routes.toml``
and in the README. Parsed and checked once, when a process starts (``baton bus``, a worker's
first publish): a mistake is a :class:`engine.ConfigurationError` naming the file, the route and
the key, never a surprise at the first event.

JSON paths are a small, predictable subset of JSONPath: ``$`` (the whole event), ``.name``,
``['any name']`` / ``["any name"]`` and ``[index]``, chained: ``$.order.lines[0]['sku']``.
No wildcards, filters or recursive descent: a route names exactly one value per key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import ConfigurationError

DEFAULT_QUEUE = "baton.bus"
DEFAULT_DEAD_LETTER = "baton.bus.dead"
DEFAULT_EVENT_ID = "$.event_id"
DEFAULT_EVENT_TYPE_PATH = "$.event"
DEFAULT_SOURCE_PATH = "$.source"
DEFAULT_WATCH_QUEUE = "baton.bus.watch"

_STEP = re.compile(r"""\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]""")
_MISSING = object()


class PathError(ValueError):
    """A JSON path names nothing in this event."""


@dataclass(frozen=True)
class JsonPath:
    """A compiled path of the subset above; ``find(document)`` returns the one value it names."""

    text: str
    steps: tuple[str | int, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        if not isinstance(text, str) or not text.startswith("$"):
            raise ValueError(f"{text!r} is not a JSON path (it must start with '$')")
        steps: list[str | int] = []
        pos = 1
        while pos < len(text):
            match = _STEP.match(text, pos)
            if match is None:
                raise ValueError(f"{text!r}: cannot read the path from {text[pos:]!r} on "
                                 "(use .name, ['name'] or [index])")
            name, index, single, double = match.groups()
            if name is not None:
                steps.append(name)
            elif index is not None:
                steps.append(int(index))
            else:
                quoted = single if single is not None else double
                steps.append(re.sub(r"\\(.)", r"\1", quoted))
            pos = match.end()
        return cls(text, tuple(steps))

    def find(self, document: Any) -> Any:
        value = document
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(value, list) or not -len(value) <= step < len(value):
                    raise PathError(f"{self.text}: no item [{step}]")
                value = value[step]
            else:
                if not isinstance(value, dict) or step not in value:
                    raise PathError(f"{self.text}: no {step!r}")
                value = value[step]
        return value

    def get(self, document: Any, default: Any = None) -> Any:
        try:
            return self.find(document)
        except PathError:
            return default

    def __str__(self) -> str:
        return self.text


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: words split on '.', ``*`` is one word, ``#`` zero or more."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        if not k:
            return False
        return (p[0] == "*" or p[0] == k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), routing_key.split("."))


@dataclass(frozen=True)
class Inbound:
    """What one route makes of one event: the arguments of ``engine.correlate``."""

    route: str
    message: str
    correlation: dict[str, Any]
    variables: dict[str, Any]
    business_key: str | None
    event_id: str | None
    ttl_seconds: float | None


class RouteError(ValueError):
    """The event does not carry what its route needs (a correlation key, an object of variables)."""


@dataclass(frozen=True)
class Route:
    """``[routes.<name>]``: bus events with this routing key (pattern) become message ``message``."""

    name: str
    routing_key: str
    message: str
    correlate: dict[str, JsonPath] = field(default_factory=dict)
    variables: JsonPath | dict[str, JsonPath] | None = None
    business_key: JsonPath | None = None
    event_id: JsonPath = field(default_factory=lambda: JsonPath.parse(DEFAULT_EVENT_ID))
    event_type: str | None = None
    ttl_seconds: float | None = None

    def accepts(self, routing_key: str, event_type: Any) -> bool:
        if not topic_matches(self.routing_key, routing_key):
            return False
        return self.event_type is None or event_type == self.event_type

    def extract(self, event: Any, message_id: str | None = None) -> Inbound:
        correlation: dict[str, Any] = {}
        for key, path in self.correlate.items():
            try:
                correlation[key] = path.find(event)
            except PathError as exc:
                raise RouteError(f"route {self.name!r}: correlation key {key!r} missing ({exc})") from exc
        variables: dict[str, Any] = {}
        if isinstance(self.variables, JsonPath):
            found = self.variables.get(event, {})
            if found is None:
                found = {}
            if not isinstance(found, dict):
                raise RouteError(f"route {self.name!r}: variables {self.variables} is a "
                                 f"{type(found).__name__}, not an object")
            variables = dict(found)
        elif isinstance(self.variables, dict):
            for name, path in self.variables.items():
                value = path.get(event, _MISSING)
                if value is not _MISSING:
                    variables[name] = value
        business_key = None
        if self.business_key is not None:
            found = self.business_key.get(event)
            business_key = None if found is None else str(found)
        event_id = self.event_id.get(event)
        if event_id is None or event_id == "":
            event_id = message_id or None
        return Inbound(self.name, self.message, correlation, variables, business_key,
                       None if event_id is None else str(event_id), self.ttl_seconds)


@dataclass(frozen=True)
class Watch:
    """``[watch.<name>]``: events between other services Baton records for traces, never correlates."""

    name: str
    routing_key: str
    correlate: dict[str, JsonPath] = field(default_factory=dict)
    business_key: JsonPath | None = None
    event_id: JsonPath = field(default_factory=lambda: JsonPath.parse(DEFAULT_EVENT_ID))
    event_type: str | None = None

    def accepts(self, routing_key: str, event_type: Any) -> bool:
        if not topic_matches(self.routing_key, routing_key):
            return False
        return self.event_type is None or event_type == self.event_type

    def keys(self, event: Any) -> tuple[dict[str, Any], str | None]:
        """The correlation keys and business key the event carries (those it lacks are left out)."""
        correlation = {key: value for key, path in self.correlate.items()
                       if (value := path.get(event, _MISSING)) is not _MISSING}
        found = self.business_key.get(event) if self.business_key is not None else None
        return correlation, None if found is None else str(found)


@dataclass(frozen=True)
class Outbound:
    """``[publish.<message>]``: how a message Baton throws goes on the bus."""

    message: str
    routing_key: str
    variables: tuple[str, ...] | None = None  # None: every variable of the throwing task

    def select(self, variables: dict[str, Any]) -> dict[str, Any]:
        if self.variables is None:
            return dict(variables)
        return {name: variables[name] for name in self.variables if name in variables}


@dataclass(frozen=True)
class BusRoutes:
    """The whole file. Empty (no routes, default names) when there is no file."""

    routes: tuple[Route, ...] = ()
    outbound: dict[str, Outbound] = field(default_factory=dict)
    queue: str = DEFAULT_QUEUE
    dead_letter: str | None = DEFAULT_DEAD_LETTER
    event_type_path: JsonPath = field(default_factory=lambda: JsonPath.parse(DEFAULT_EVENT_TYPE_PATH))
    prefetch: int = 16
    source: str = "(no routes file)"
    watches: tuple[Watch, ...] = ()
    watch_queue: str = DEFAULT_WATCH_QUEUE
    source_path: JsonPath = field(default_factory=lambda: JsonPath.parse(DEFAULT_SOURCE_PATH))

    @property
    def binding_keys(self) -> list[str]:
        """The routing keys (patterns) the consumer's queue is bound with, once each, in file order."""
        return list(dict.fromkeys(route.routing_key for route in self.routes))

    def match(self, routing_key: str, event: Any) -> Route | None:
        """The first route, in file order, whose routing key matches and whose event type (if any) is the event's."""
        event_type = self.event_type_path.get(event)
        for route in self.routes:
            if route.accepts(routing_key, event_type):
                return route
        return None

    @property
    def watch_keys(self) -> list[str]:
        """The routing keys (patterns) the watch queue is bound with, once each, in file order."""
        return list(dict.fromkeys(watch.routing_key for watch in self.watches))

    def watch_match(self, routing_key: str, event: Any) -> Watch | None:
        event_type = self.event_type_path.get(event)
        for watch in self.watches:
            if watch.accepts(routing_key, event_type):
                return watch
        return None

    def outbound_for(self, message: str) -> Outbound:
        return self.outbound.get(message) or Outbound(message, message)

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | str | None) -> BusRoutes:
        if path is None:
            return cls()
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError(f"BATON_BUS_ROUTES: {path} does not exist") from exc
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"BATON_BUS_ROUTES: {path} cannot be read: {exc}") from exc
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "bus routes") -> BusRoutes:
        def fail(where: str, why: str) -> ConfigurationError:
            return ConfigurationError(f"{source}: {where}: {why}")

        def path_of(where: str, raw: Any) -> JsonPath:
            try:
                return JsonPath.parse(raw)
            except ValueError as exc:
                raise fail(where, str(exc)) from exc

        unknown = set(data) - {"bus", "routes", "publish", "watch"}
        if unknown:
            raise fail("top level", f"unknown table(s) {sorted(unknown)}; expected [bus], [routes.*], [publish.*], "
                                    "[watch.*]")
        bus = data.get("bus", {})
        if not isinstance(bus, dict):
            raise fail("[bus]", "must be a table")
        unknown = set(bus) - {"queue", "dead_letter", "event_type_path", "prefetch", "watch_queue", "source_path"}
        if unknown:
            raise fail("[bus]", f"unknown key(s) {sorted(unknown)}")
        queue = bus.get("queue", DEFAULT_QUEUE)
        if not isinstance(queue, str) or not queue:
            raise fail("[bus] queue", "must be a non-empty string")
        dead_letter = bus.get("dead_letter", DEFAULT_DEAD_LETTER)
        if not isinstance(dead_letter, str):
            raise fail("[bus] dead_letter", "must be a string (\"\" to log and drop unroutable events)")
        prefetch = bus.get("prefetch", 16)
        if not isinstance(prefetch, int) or isinstance(prefetch, bool) or prefetch < 1:
            raise fail("[bus] prefetch", "must be a positive integer")
        event_type_path = path_of("[bus] event_type_path", bus.get("event_type_path", DEFAULT_EVENT_TYPE_PATH))
        source_path = path_of("[bus] source_path", bus.get("source_path", DEFAULT_SOURCE_PATH))
        watch_queue = bus.get("watch_queue", DEFAULT_WATCH_QUEUE)
        if not isinstance(watch_queue, str) or not watch_queue:
            raise fail("[bus] watch_queue", "must be a non-empty string")
        if watch_queue == queue:
            raise fail("[bus] watch_queue", f"must differ from queue {queue!r}: watched events are never correlated")

        routes: list[Route] = []
        raw_routes = data.get("routes", {})
        if not isinstance(raw_routes, dict):
            raise fail("[routes]", "must be a table of [routes.<name>] tables")
        allowed = {"routing_key", "message", "correlate", "variables", "business_key", "event_id", "event_type",
                   "ttl"}
        for name, raw in raw_routes.items():
            where = f"[routes.{name}]"
            if not isinstance(raw, dict):
                raise fail(where, "must be a table")
            unknown = set(raw) - allowed
            if unknown:
                raise fail(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
            routing_key = raw.get("routing_key", name)
            message = raw.get("message", name)
            for key, value in (("routing_key", routing_key), ("message", message)):
                if not isinstance(value, str) or not value:
                    raise fail(f"{where} {key}", "must be a non-empty string")
            correlate_raw = raw.get("correlate", {})
            if not isinstance(correlate_raw, dict):
                raise fail(f"{where} correlate", "must be a table of correlation key = JSON path")
            correlate = {key: path_of(f"{where} correlate.{key}", value) for key, value in correlate_raw.items()}
            variables: JsonPath | dict[str, JsonPath] | None = None
            raw_vars = raw.get("variables")
            if isinstance(raw_vars, str):
                variables = path_of(f"{where} variables", raw_vars)
            elif isinstance(raw_vars, dict):
                variables = {key: path_of(f"{where} variables.{key}", value) for key, value in raw_vars.items()}
            elif raw_vars is not None:
                raise fail(f"{where} variables", "must be a JSON path to an object or a table of name = JSON path")
            business_key = path_of(f"{where} business_key", raw["business_key"]) if "business_key" in raw else None
            event_id = path_of(f"{where} event_id", raw.get("event_id", DEFAULT_EVENT_ID))
            event_type = raw.get("event_type")
            if event_type is not None and not isinstance(event_type, str):
                raise fail(f"{where} event_type", "must be a string")
            ttl = raw.get("ttl")
            if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
                raise fail(f"{where} ttl", "must be a positive number of seconds")
            routes.append(Route(name=name, routing_key=routing_key, message=message, correlate=correlate,
                                variables=variables, business_key=business_key, event_id=event_id,
                                event_type=event_type, ttl_seconds=float(ttl) if ttl is not None else None))

        outbound: dict[str, Outbound] = {}
        raw_out = data.get("publish", {})
        if not isinstance(raw_out, dict):
            raise fail("[publish]", "must be a table of [publish.<message>] tables")
        for message, raw in raw_out.items():
            where = f"[publish.{message}]"
            if not isinstance(raw, dict):
                raise fail(where, "must be a table")
            unknown = set(raw) - {"routing_key", "variables"}
            if unknown:
                raise fail(where, f"unknown key(s) {sorted(unknown)}; allowed: ['routing_key', 'variables']")
            routing_key = raw.get("routing_key", message)
            if not isinstance(routing_key, str) or not routing_key or any(c in routing_key for c in "*#"):
                raise fail(f"{where} routing_key", "must be a non-empty routing key without wildcards")
            names = raw.get("variables")
            if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
                raise fail(f"{where} variables", "must be a list of variable names")
            outbound[message] = Outbound(message, routing_key, tuple(names) if names is not None else None)

        watches: list[Watch] = []
        raw_watch = data.get("watch", {})
        if not isinstance(raw_watch, dict):
            raise fail("[watch]", "must be a table of [watch.<name>] tables")
        for name, raw in raw_watch.items():
            where = f"[watch.{name}]"
            if not isinstance(raw, dict):
                raise fail(where, "must be a table")
            unknown = set(raw) - {"routing_key", "event_type", "correlate", "business_key", "event_id"}
            if unknown:
                raise fail(where, f"unknown key(s) {sorted(unknown)}; allowed: ['business_key', 'correlate', "
                                  "'event_id', 'event_type', 'routing_key']")
            routing_key = raw.get("routing_key", name)
            if not isinstance(routing_key, str) or not routing_key:
                raise fail(f"{where} routing_key", "must be a non-empty string")
            correlate_raw = raw.get("correlate", {})
            if not isinstance(correlate_raw, dict) or not correlate_raw:
                raise fail(f"{where} correlate", "must name at least one correlation key = JSON path "
                                                 "(a trace finds a watched event by these keys)")
            correlate = {key: path_of(f"{where} correlate.{key}", value) for key, value in correlate_raw.items()}
            event_type = raw.get("event_type")
            if event_type is not None and not isinstance(event_type, str):
                raise fail(f"{where} event_type", "must be a string")
            watches.append(Watch(
                name=name, routing_key=routing_key, correlate=correlate,
                business_key=path_of(f"{where} business_key", raw["business_key"]) if "business_key" in raw else None,
                event_id=path_of(f"{where} event_id", raw.get("event_id", DEFAULT_EVENT_ID)), event_type=event_type))

        return cls(routes=tuple(routes), outbound=outbound, queue=queue, dead_letter=dead_letter or None,
                   event_type_path=event_type_path, prefetch=prefetch, source=source, watches=tuple(watches),
                   watch_queue=watch_queue, source_path=source_path)
