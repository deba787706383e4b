"""Who is calling, and may they: roles on every route, logins, CSRF, security headers.

Deny by default. Every view declares the least role it needs with :func:`requires` (``viewer``,
``operator``, ``admin``; see ``engine.users``), or its endpoint is in :data:`OPEN`. One
``before_request`` hook checks every request against that declaration, so a route that declares
nothing is refused at run time, and ``tests/test_auth_routes.py`` fails on it at once::

    @api.post("/process-instances/<instance_id>/cancel")
    @requires("operator")
    def cancel(instance_id: str) -> Response: ...

- The REST API (``/api/v1``) takes ``Authorization: Bearer <token>`` (``baton token create``).
  A logged-in browser session may also *read* it (GET), never change anything through it: the
  API has no CSRF tokens, bearer tokens need none.
- The UI takes the session cookie set by ``/login`` (HttpOnly, SameSite=Lax, Secure over HTTPS).
  Every POST of the UI carries the session's CSRF token: the ``csrf_token`` form field
  (``{{ m.csrf_field() }}``) or the ``X-CSRFToken`` header (``Baton.csrfHeaders()`` in JS).
- ``BATON_API_TOKEN``, when set, is an admin token for automation before any token exists.
- Camunda 7's REST API (``/engine-rest``, ``web/camunda_rest``) takes HTTP Basic with a Baton user
  or ``Authorization: Bearer <token>``, with the same roles; like ``/api/v1`` it needs no CSRF
  token and a session cookie changes nothing there. A right password is remembered for a few
  minutes per process (scrypt at every poll of an external-task worker would be its whole cost);
  a password change ends that at the next request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.wrappers import Response

from engine import ROLES, Engine, role_allows

from .login_throttle import LoginThrottle
from .problems import is_api_request, problem

F = TypeVar("F", bound=Callable[..., Any])

# Endpoints anyone may reach: the health probes, the API description, the login page, static files, and
# /metrics, which checks its own callers (loopback, BATON_METRICS_TOKEN or an API token; web/ops.py).
OPEN = frozenset({"static", "ui.static", "api.health", "api.openapi", "auth.login", "auth.logout",
                  "ops.healthz", "ops.readyz", "ops.metrics",
                  "camunda_well_known.well_known"})  # where Camunda Modeler finds Baton's UI (no secrets)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"

auth = Blueprint("auth", __name__, template_folder="templates")


def requires(role: str) -> Callable[[F], F]:
    """Declare the least role a view needs. The check itself is :func:`_authorize`, for all views."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def mark(view: F) -> F:
        view.baton_role = role  # type: ignore[attr-defined]
        return view

    return mark


def required_role(view: Callable[..., Any]) -> str | None:
    return getattr(view, "baton_role", None)


@dataclass(frozen=True)
class Identity:
    """The caller: a logged-in user, an API token, or the bootstrap token."""

    kind: str  # user | token | bootstrap
    id: str
    name: str
    role: str

    def may(self, role: str) -> bool:
        return role_allows(self.role, role)

    @property
    def label(self) -> str:
        """How the caller is recorded (a deployment's ``deployed_by``)."""
        return self.name if self.kind == "user" else f"{self.kind}:{self.name}"


def current_identity() -> Identity | None:
    return g.get("baton_identity")


def _engine() -> Engine:
    return current_app.extensions["baton"]


# -- identifying the caller -----------------------------------------------------------------------

def _bearer() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def _token_identity(secret: str) -> Identity | None:
    bootstrap = current_app.config.get("BATON_API_TOKEN")
    if bootstrap and hmac.compare_digest(secret.encode(), bootstrap.encode()):
        return Identity("bootstrap", "bootstrap", "BATON_API_TOKEN", "admin")
    found = _engine().token_identity(secret)
    if found is None:
        return None
    return Identity("token", found["id"], found["name"] or found["prefix"], found["role"])


def _session_identity() -> Identity | None:
    user_id, stamp = session.get("uid"), session.get("stamp")
    if not user_id or not stamp:
        return None
    found = _engine().session_user(user_id, stamp)
    if found is None:  # deleted, or the password changed: this session is over
        session.pop("uid", None)
        session.pop("stamp", None)
        return None
    return Identity("user", found["id"], found["name"], found["role"])


def csrf_token() -> str:
    """The session's CSRF token (made on first use); forms and ``<meta name="csrf-token">`` carry it."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD) if request.mimetype in (
        "application/x-www-form-urlencoded", "multipart/form-data") else None
    given = given or request.headers.get(CSRF_HEADER)
    return bool(expected and given) and hmac.compare_digest(str(given).encode(), str(expected).encode())


def _refuse_api(status: int, detail: str) -> Response:
    response = problem(status, "Unauthorized" if status == 401 else "Forbidden", detail)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="baton"'
    return response


def _authorize() -> Response | None:
    """Runs before every view: identify the caller, check CSRF and the view's declared role."""
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: Flask answers 404/405 itself
        return None
    api = is_api_request()
    camunda = is_camunda_request()
    if camunda:
        return _authorize_camunda(endpoint)
    if not api and request.method not in SAFE_METHODS and not _csrf_ok():
        return _forbidden_page("The form expired or did not come from this Baton page. Reload the page and try "
                               "again.", status=400)
    if endpoint in OPEN:
        return None
    need = required_role(current_app.view_functions[endpoint])
    if need is None:  # a route nobody decided about is closed, never open
        detail = f"route {endpoint} declares no role requirement; it is refused until it does"
        return problem(403, "Forbidden", detail) if api else _forbidden_page(detail)
    identity = _identify(api)
    if isinstance(identity, Response):
        return identity
    if identity is None:
        if api:
            return _refuse_api(401, "this call needs 'Authorization: Bearer <token>' (baton token create --role R)")
        target = request.full_path if request.method == "GET" else request.referrer or "/"
        return redirect(url_for("auth.login") + "?" + urlencode({"next": target.rstrip("?")}))
    g.baton_identity = identity
    if not identity.may(need):
        detail = f"this needs the {need} role; {identity.label} has the {identity.role} role"
        return _refuse_api(403, detail) if api else _forbidden_page(detail)
    return None


# -- Camunda 7's REST API (/engine-rest): Basic or Bearer ---------------------------------------

CAMUNDA_PREFIX = "/engine-rest"
#: How long a checked Basic password is taken without scrypt again (its user's stamp is still read).
BASIC_REMEMBER_SECONDS = 600.0


def is_camunda_request() -> bool:
    return request.path == CAMUNDA_PREFIX or request.path.startswith(CAMUNDA_PREFIX + "/")


def _camunda_refusal(status: int, message: str) -> Response:
    from flask import jsonify

    kind = "AuthenticationException" if status == 401 else "AuthorizationException"
    response = jsonify({"type": kind, "message": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="baton"'
    return response


def _basic_identity(header: str) -> Identity | None:
    try:
        name, _, password = base64.b64decode(header, validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    if not name or not password:
        return None
    remembered: dict[str, tuple[str, str, float]] = current_app.extensions.setdefault("baton_basic_seen", {})
    pepper = current_app.secret_key
    pepper = pepper.encode() if isinstance(pepper, str) else bytes(pepper or b"")
    key = hmac.new(pepper, f"{name}\0{password}".encode(), hashlib.sha256).hexdigest()
    seen = remembered.get(key)
    if seen is not None and seen[2] > time.monotonic():
        found = _engine().session_user(seen[0], seen[1])
        if found is not None:
            return Identity("user", found["id"], found["name"], found["role"])
    address = request.remote_addr or "-"
    throttle: LoginThrottle = current_app.extensions["baton_login_throttle"]
    if throttle.wait_seconds(name, address) > 0:
        return None
    user = _engine().authenticate(name, password)
    if user is None:
        throttle.failed(name, address)
        return None
    throttle.succeeded(name)
    if len(remembered) > 1000:
        remembered.clear()
    remembered[key] = (user["id"], user["stamp"], time.monotonic() + BASIC_REMEMBER_SECONDS)
    return Identity("user", user["id"], user["name"], user["role"])


def _authorize_camunda(endpoint: str) -> Response | None:
    """``/engine-rest``: Basic (a Baton user) or Bearer (an API token); Camunda's error bodies."""
    if endpoint in OPEN:
        return None
    need = required_role(current_app.view_functions[endpoint])
    if need is None:
        return _camunda_refusal(403, f"route {endpoint} declares no role requirement; it is refused until it does")
    scheme, _, secret = (request.headers.get("Authorization") or "").partition(" ")
    identity: Identity | None = None
    if scheme.lower() == "bearer" and secret.strip():
        identity = _token_identity(secret.strip())
    elif scheme.lower() == "basic" and secret.strip():
        identity = _basic_identity(secret.strip())
    if identity is None:
        return _camunda_refusal(401, "this call needs HTTP Basic with a Baton user and password, or "
                                     "'Authorization: Bearer <token>' (baton token create --role R)")
    g.baton_identity = identity
    if not identity.may(need):
        return _camunda_refusal(403, f"this needs the {need} role; {identity.label} has the {identity.role} role")
    return None


def _identify(api: bool) -> Identity | Response | None:
    if api:
        secret = _bearer()
        if secret is not None:
            found = _token_identity(secret) if secret else None
            return found or _refuse_api(401, "the bearer token is unknown or revoked")
        if request.method not in SAFE_METHODS:
            return None  # a session cookie never changes anything through the API
    return _session_identity()


def _forbidden_page(detail: str, status: int = 403) -> Response:
    body = render_template("login.html", forbidden=detail, identity=g.get("baton_identity"))
    return Response(body, status=status, mimetype="text/html")


# -- login and logout -----------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    """Only a path on this site: never ``//evil`` or ``https://evil``."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if _session_identity() is not None:
            return redirect(target)
        return render_template("login.html", next=target)
    name = request.form.get("username", "").strip()[:120]
    password = request.form.get("password", "")
    address = request.remote_addr or "-"
    throttle: LoginThrottle = current_app.extensions["baton_login_throttle"]
    wait = throttle.wait_seconds(name, address)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        body = render_template("login.html", next=target, username=name,
                               error=f"Too many failed logins. Try again in about {minutes} minute(s).")
        return Response(body, status=429, headers={"Retry-After": str(int(wait) + 1)})
    user = _engine().authenticate(name, password) if name and password else None
    if user is None:
        throttle.failed(name, address)
        body = render_template("login.html", next=target, username=name, error="Wrong user name or password.")
        return Response(body, status=401)
    throttle.succeeded(name)
    session.clear()  # a fresh session (and CSRF token) at every login: nothing carried over
    session.permanent = True
    session.update(uid=user["id"], stamp=user["stamp"], csrf=secrets.token_urlsafe(32))
    return redirect(target)


@auth.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))  # type: ignore[return-value]


# -- headers and wiring ---------------------------------------------------------------------------

def csp_nonce() -> str:
    """The nonce of this response's inline ``<script nonce="{{ csp_nonce() }}">`` blocks."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _security_headers(response: Response) -> Response:
    """On every response. bpmn-js needs inline styles (it styles SVG through style attributes) and
    data: URIs (its embedded font, the bpmn.io logo); scripts come only from here or carry the nonce."""
    headers = response.headers
    if response.mimetype == "text/html":
        csp = ("default-src 'self'; "
               f"script-src 'self' 'nonce-{csp_nonce()}'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
               "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
    else:
        csp = "default-src 'none'; frame-ancestors 'none'"
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if g.get("baton_identity") is not None or session.get("uid"):
        headers.setdefault("Cache-Control", "no-store")  # what a signed-in caller saw stays out of caches
        headers.add("Vary", "Cookie, Authorization")
    return response


class _SessionInterface(SecureCookieSessionInterface):
    """Secure cookies whenever the request came over HTTPS (directly or through a trusted proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def can(role: str) -> bool:
    """In templates: show an action only to those who may do it (the route checks again)."""
    identity = current_identity()
    return bool(identity and identity.may(role))


def _template_context() -> dict[str, Any]:
    return {"current_user": current_identity()}


def init_app(app: Flask, *, session_hours: float, trusted_proxies: int = 0, bootstrap_token: str = "") -> None:
    """Sessions, the login throttle, the per-request check and the headers."""
    app.config.update(BATON_API_TOKEN=bootstrap_token, SESSION_COOKIE_NAME="baton_session",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=session_hours))
    app.session_interface = _SessionInterface()
    if trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies,  # type: ignore[method-assign]
                                x_host=trusted_proxies)
    app.extensions["baton_login_throttle"] = LoginThrottle()
    app.before_request(_authorize)
    app.after_request(_security_headers)
    app.context_processor(_template_context)
    # Globals, not context: macros rendered through get_template_attribute (live panels) see them too.
    app.jinja_env.globals.update(csrf_token=csrf_token, csp_nonce=csp_nonce, can=can)
    app.register_blueprint(auth)
