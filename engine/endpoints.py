"""The endpoint map: which endpoint a service task's topic calls (``BATON_ENDPOINTS``).

The file is TOML, one table per topic::

    [topics.payment-charge]
    url = "http://127.0.0.1:8010/payment/charge"   # an HTTP endpoint...
    method = "POST"
    timeout = 10          # seconds per call
    retries = 3           # retries after the first attempt, with exponential backoff

    [topics.audit-log]
    python = "processes.handlers:audit_log"        # ...or a Python callable(variables) -> dict

A Camunda 7 diagram's Java delegates can be bound the same way (opt-in), so a diagram whose Java
logic moved to a service deploys unchanged: a ``[delegates."NAME"]`` table, with the same keys,
binds the ``camunda:class`` or ``camunda:delegateExpression`` NAME (``com.acme.SendInvoice``,
``${invoiceSender}`` or just ``invoiceSender``) to an endpoint, which the task's jobs call as
they would a topic's::

    [delegates."com.acme.SendInvoice"]
    python = "processes.handlers:send_invoice"

``${NAME}`` inside a string is replaced by the environment variable ``NAME`` (so one file serves
machines whose services listen elsewhere). The engine only reads this map; calling the endpoint
is an adapter's job (``adapters/endpoints``).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

_DELEGATE_EXPRESSION = re.compile(r"[$#]\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Endpoint:
    """Where one topic's jobs go. Exactly one of ``url`` and ``python`` is set."""

    topic: str
    url: str | None = None
    method: str = "POST"
    timeout: float = 30.0
    retries: int = 3
    python: str | None = None

    @property
    def kind(self) -> str:
        return "http" if self.url else "python"

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic, "url": self.url, "method": self.method,
            "timeout": self.timeout, "retries": self.retries, "python": self.python,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Endpoint:
        return cls(**data)


class EndpointMap:
    """Topic -> :class:`Endpoint`, read once from the TOML file."""

    def __init__(self, endpoints: dict[str, Endpoint] | None = None, source: str | None = None):
        self._endpoints = dict(endpoints or {})
        self.source = source

    @classmethod
    def load(cls, path: Path | None) -> EndpointMap:
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError(f"BATON_ENDPOINTS: {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"BATON_ENDPOINTS: {path}: {exc}") from exc
        topics = data.get("topics", {})
        if not isinstance(topics, dict):
            raise ConfigurationError(f"{path}: [topics] must be a table of tables")
        endpoints = {}
        for topic, raw in topics.items():
            endpoints[topic] = _endpoint(topic, raw, str(path))
        delegates = data.get("delegates", {})
        if not isinstance(delegates, dict):
            raise ConfigurationError(f"{path}: [delegates] must be a table of tables")
        for name, raw in delegates.items():
            key = delegate_key(name)
            if key in endpoints:
                raise ConfigurationError(f"{path}: delegates.{name} has the name of a topic (or of another "
                                         "delegate); give the endpoint one table")
            endpoints[key] = _endpoint(key, raw, str(path))
        return cls(endpoints, str(path))

    def resolve(self, topic: str) -> Endpoint | None:
        return self._endpoints.get(topic)

    def delegate(self, name: str) -> Endpoint | None:
        """The endpoint a ``camunda:class`` / ``camunda:delegateExpression`` name is bound to."""
        return self._endpoints.get(delegate_key(name))

    def topics(self) -> list[str]:
        return sorted(self._endpoints)


def delegate_key(name: str) -> str:
    """The topic a delegate name runs under: the class name, or the bean name of ``${bean}``."""
    name = name.strip()
    found = _DELEGATE_EXPRESSION.fullmatch(name)
    return f"delegate:{found.group(1) if found else name}"


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    return value


def _endpoint(topic: str, raw: Any, source: str) -> Endpoint:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: topics.{topic} must be a table")
    raw = {k: _expand(v) for k, v in raw.items()}
    unknown = set(raw) - {"url", "method", "timeout", "retries", "python"}
    if unknown:
        raise ConfigurationError(f"{source}: topics.{topic}: unknown keys {sorted(unknown)}")
    if bool(raw.get("url")) == bool(raw.get("python")):
        raise ConfigurationError(f"{source}: topics.{topic} needs exactly one of 'url' or 'python'")
    if raw.get("python") and ":" not in raw["python"]:
        raise ConfigurationError(f"{source}: topics.{topic}.python must look like 'module:function'")
    try:
        return Endpoint(
            topic=topic,
            url=raw.get("url"),
            method=str(raw.get("method", "POST")).upper(),
            timeout=float(raw.get("timeout", 30)),
            retries=int(raw.get("retries", 3)),
            python=raw.get("python"),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{source}: topics.{topic}: {exc}") from exc
