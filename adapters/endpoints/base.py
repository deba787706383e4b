"""The contract every endpoint adapter keeps."""

from __future__ import annotations

from typing import Any, Protocol

from engine import JobCall


class EndpointAdapter(Protocol):
    """Call the endpoint for one job attempt.

    Return the result as a JSON object (merged into the task's variables), or raise:

    - ``RetryableFailure``: a transient failure (5xx, timeout, refused connection); retried
      with exponential backoff, then an incident;
    - ``BpmnErrorRaised(code, message)``: a business error the diagram may catch by code;
    - ``FatalFailure``: retrying cannot help; an incident at once.

    Every attempt of one job carries the same ``call.idempotency_key``: an endpoint that
    honours it applies its effect once, however often Baton calls.

    Example::

        class Echo:
            def call(self, call: JobCall) -> dict[str, Any]:
                return {"echo": call.variables}
    """

    def call(self, call: JobCall) -> dict[str, Any]: ...
