"""Camunda 7's error body, ``{"type": "...", "message": "..."}``, and which status each failure gets.

Camunda's REST API names the Java exception in ``type``; clients print it and branch on the status
(the JavaScript client's ``EngineError``, the Python client's ``received 400 : RestException``).
Baton's engine errors map to the status Camunda answers for the same situation:

- unknown task, instance, definition: 404 (``RestException`` / ``InvalidRequestException``);
- a worker that does not hold the lock, bad input, variables Baton cannot keep: 400;
- a message that matched nothing: 400 ``RestException`` (Camunda's ``MismatchingMessageCorrelationException``);
- a refused deployment: 400 ``ParseException`` whose ``message`` lists each problem on its line.
"""

from __future__ import annotations

from flask import Response, jsonify


class CamundaError(Exception):
    """An answer in Camunda's error shape, raised anywhere inside a ``/engine-rest`` view."""

    def __init__(self, status: int, kind: str, message: str, **extra: object):
        super().__init__(message)
        self.status, self.kind, self.message, self.extra = status, kind, message, extra

    def response(self) -> Response:
        answer = jsonify({"type": self.kind, "message": self.message, **self.extra})
        answer.status_code = self.status
        return answer


def error_response(status: int, kind: str, message: str) -> Response:
    return CamundaError(status, kind, message).response()
