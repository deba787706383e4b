"""HTTP endpoints, called with httpx: the variables go out as JSON, a JSON object comes back.

Headers: ``Idempotency-Key`` (stable across a job's attempts), ``X-Baton-*`` ids, and a W3C
``traceparent`` whose trace id is the one of the call that started the instance (or sent the
message that made this job) and whose parent id is the job's (``engine.logs.job_traceparent``).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from engine import BpmnErrorRaised, FatalFailure, JobCall, RetryableFailure, http_request, http_response

_RETRYABLE_4XX = {408, 425, 429}


class HttpEndpointAdapter:
    def __init__(self) -> None:
        self._local = threading.local()

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(follow_redirects=False, trust_env=False)
            self._local.client = client
        return client

    def call(self, call: JobCall) -> dict[str, Any]:
        endpoint = call.endpoint
        assert endpoint is not None and endpoint.url
        headers = {
            **call.headers,  # the task's zeebe:taskHeaders (never one of Baton's own: refused at deploy)
            "Idempotency-Key": call.idempotency_key,
            "X-Baton-Instance-Id": call.instance_id,
            "X-Baton-Job-Id": call.job_id,
            "X-Baton-Attempt": str(call.attempt),
            "traceparent": call.traceparent,
        }
        request = self._client().build_request(endpoint.method, endpoint.url, json=call.variables, headers=headers,
                                               timeout=endpoint.timeout)
        # what the incident page shows of this attempt (engine.attempts redacts and cuts it)
        call.exchange["request"] = http_request(request.method, str(request.url), request.headers, request.content)
        try:
            response = self._client().send(request)
        except httpx.TimeoutException as exc:
            raise RetryableFailure(f"{endpoint.method} {endpoint.url} timed out after {endpoint.timeout}s") from exc
        except httpx.TransportError as exc:
            raise RetryableFailure(f"{endpoint.method} {endpoint.url} failed: {exc}") from exc
        call.exchange["response"] = http_response(response.status_code, response.headers, response.content)
        return _result(endpoint.method, endpoint.url, response)


def _result(method: str, url: str, response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    where = f"{method} {url} answered {status}"
    if 200 <= status < 300:
        if not response.content.strip():
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise FatalFailure(f"{where} with a body that is not JSON") from exc
        if not isinstance(body, dict):
            raise FatalFailure(f"{where} with JSON that is not an object")
        return body
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        error = _error_body(response)
        if error is not None:
            raise BpmnErrorRaised(error[0], error[1])
        raise FatalFailure(f"{where}: {response.text[:200]}")
    raise RetryableFailure(f"{where}: {response.text[:200]}")


def _error_body(response: httpx.Response) -> tuple[str, str] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str) and error["code"]:
        return error["code"], str(error.get("message", ""))
    return None
