"""Baton's engine: deploy BPMN, run instances with persisted context, record what happened.

The public face. ``web/`` and ``adapters/`` import from here only::

    from engine import Engine, Settings

    engine = Engine(Settings.from_env())
    engine.deploy([("order.bpmn", data)])
    instance_id = engine.start("order_fulfillment", {"amount": 10}, business_key="order-1")
    call = engine.claim_job(job_id, owner="worker-1")      # a worker takes a service job...
    engine.complete_job(call.job_id, {"payment_id": "p1"})  # ...and hands back its result
"""

from __future__ import annotations

from . import logs, metrics
from .attempts import http_request, http_response
from .config import Settings
from .db import database_errors, database_unavailable
from .definitions import DeployedDefinition
from .endpoints import Endpoint, EndpointMap
from .errors import (
    BatonError,
    BpmnErrorRaised,
    ConfigurationError,
    DefinitionNotFound,
    DeploymentError,
    EndpointFailure,
    ExternalTaskNotFound,
    FatalFailure,
    FormInvalid,
    IncidentNotFound,
    InstanceNotActive,
    InstanceNotFound,
    InvalidRequest,
    InvalidVariables,
    JobNotHeld,
    MessageNotCorrelated,
    NotFound,
    Problem,
    RetryableFailure,
    SandboxUnavailable,
    TaskNotFound,
)
from .external_task_operations import ExternalTaskQuery
from .external_tasks import ExternalTask, TopicRequest
from .idempotency import IdempotencyKeyReused
from .jobs import JobCall
from .modification import Instruction
from .runtime import Engine, JobTicket, Notifier
from .schema import SchemaOutdated, check_schema
from .users import ROLES, role_allows

__all__ = [
    "BatonError", "BpmnErrorRaised", "ConfigurationError", "DefinitionNotFound", "DeployedDefinition",
    "DeploymentError", "Endpoint", "EndpointFailure", "EndpointMap", "Engine", "FatalFailure", "FormInvalid",
    "IncidentNotFound", "InstanceNotActive", "InstanceNotFound", "InvalidRequest", "InvalidVariables",
    "JobCall", "JobTicket", "MessageNotCorrelated", "NotFound", "Notifier", "Problem", "RetryableFailure", "Settings",
    "SandboxUnavailable", "TaskNotFound", "ROLES", "role_allows", "SchemaOutdated", "check_schema",
    "logs", "metrics", "IdempotencyKeyReused", "database_errors", "database_unavailable",
    "http_request", "http_response", "Instruction",
    "ExternalTask", "ExternalTaskNotFound", "ExternalTaskQuery", "JobNotHeld", "TopicRequest",
]
