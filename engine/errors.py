"""Every failure the engine reports, one type per failure class.

Catch the branch you can act on::

    BatonError
    ├── ConfigurationError        a BATON_* setting or the endpoint map is wrong
    ├── DeploymentError           a diagram was refused; ``.problems`` lists each one
    ├── NotFound                  (HTTP 404)
    │   ├── DefinitionNotFound
    │   ├── InstanceNotFound
    │   ├── IncidentNotFound
    │   ├── TaskNotFound          no waiting user/manual task with that element id
    │   ├── ExternalTaskNotFound  no open external task with that id (completed, cancelled, never was)
    │   └── MessageNotCorrelated  a message matched no waiting instance and started none
    ├── InvalidRequest            the call cannot apply to what exists (HTTP 409/400)
    │   ├── InvalidVariables      variables are not a JSON object of JSON values
    │   │   └── FormInvalid       a user task's form refuses them; ``.errors`` field -> message
    │   ├── InstanceNotActive     the instance already ended (completed, cancelled...)
    │   └── JobNotHeld            a worker's result or lock call for a job another worker holds now
    │                             (its lease or lock ran out and someone else took the job)
    ├── SandboxUnavailable        no script sandbox could be started: not the diagram's fault,
    │                             try again later (a job that meets it is retried)
    └── EndpointFailure           raised by an endpoint adapter for one job call
        ├── RetryableFailure      5xx, timeout, refused connection: try again later
        ├── BpmnErrorRaised       the service answered a business error with a code
        └── FatalFailure          retrying cannot help (bad response, no binding)

An ``EndpointFailure`` never escapes to a caller: ``instances.fail_job`` turns it into a
retry, a BPMN error thrown into the workflow, or an incident.
"""

from __future__ import annotations

from dataclasses import dataclass


class BatonError(Exception):
    """Base of every error Baton raises on purpose."""


class ConfigurationError(BatonError):
    pass


@dataclass(frozen=True)
class Problem:
    """One reason a diagram was refused: ``file:line: element-id: reason``."""

    file: str
    line: int | None
    element_id: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {self.element_id or '-'}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "element_id": self.element_id, "reason": self.reason}


class DeploymentError(BatonError):
    """The deployment was refused as a whole; nothing of it was stored."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("deployment refused:\n" + "\n".join(str(p) for p in problems))


class NotFound(BatonError):
    pass


class DefinitionNotFound(NotFound):
    pass


class InstanceNotFound(NotFound):
    pass


class IncidentNotFound(NotFound):
    pass


class TaskNotFound(NotFound):
    pass


class MessageNotCorrelated(NotFound):
    pass


class InvalidRequest(BatonError):
    pass


class InvalidVariables(InvalidRequest):
    pass


class FormInvalid(InvalidVariables):
    """A completion does not satisfy the task's form; ``errors`` maps field id -> message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class InstanceNotActive(InvalidRequest):
    pass


class ExternalTaskNotFound(NotFound):
    pass


class JobNotHeld(InvalidRequest):
    """A result, failure or lock change from a worker that does not hold the job (any more)."""


class SandboxUnavailable(BatonError):
    """Scripts and expressions cannot run now: no sandbox process started (see ``_bpmn/sandbox.py``)."""


class EndpointFailure(BatonError):
    """A job's call failed. Adapters raise the subclass that says what to do next."""


class RetryableFailure(EndpointFailure):
    pass


class BpmnErrorRaised(EndpointFailure):
    def __init__(self, code: str, message: str = ""):
        self.code = code
        self.message = message
        super().__init__(f"BPMN error {code!r}: {message}" if message else f"BPMN error {code!r}")


class FatalFailure(EndpointFailure):
    pass
