"""The operator UI: server-rendered pages over the engine's read models, a little plain JS.

Pages live in three modules on one blueprint: this one (dashboard, search, instance and
incident lists, the live token, error pages), ``ui_instance`` (one instance) and
``ui_definitions`` (definitions, deploy, start, modeler). Every form posts and redirects;
every form renders ``{{ csrf_field() }}`` so CSRF protection is one macro away.

Live pages poll :func:`changes` and re-fetch themselves only when its token moved.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from engine import BatonError, Engine, InvalidRequest

from .auth import current_identity, requires

ui = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

STATUSES = ("running", "waiting", "suspended", "incident", "completed", "compensated", "cancelled", "terminated")
MATCHES = ("exact", "prefix", "contains")
ELEMENT_STATES = ("active", "incident", "completed", "cancelled")
BULK_ACTIONS = {"cancel": "Cancelled", "suspend": "Suspended", "resume": "Resumed", "retry": "Retried",
                "migrate": "Migrated"}
NOT_JSON = "The variables are not JSON: {}"  # one wording wherever typed variables are refused
PAGE_SIZES = (25, 50, 100)


def engine() -> Engine:
    return current_app.extensions["baton"]


def int_arg(name: str, default: int | None = None) -> int | None:
    try:
        return int(request.args[name])
    except (KeyError, ValueError):
        return default


def when_arg(name: str) -> datetime | None:
    """A ``datetime-local`` field (read as UTC); an unreadable one is ignored with a notice."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        flash(f"'{raw}' is not a date and time (YYYY-MM-DDTHH:MM); the filter was ignored", "error")
        return None


# -- the broker banner -------------------------------------------------------------------------

class BrokerProbe:
    """Whether the Celery broker answers, checked in a background thread at most every
    ``interval`` seconds so that a dead broker never slows a page down."""

    def __init__(self, interval: float = 15.0):
        self.interval = interval
        self.result: str | None = None
        self.checked = 0.0
        self._lock = threading.Lock()

    def problem(self, eng: Engine) -> str | None:
        celery_app = getattr(eng.notifier, "app", None)
        if celery_app is None:  # jobs run in-process: there is no broker to lose
            return None
        with self._lock:
            due = time.monotonic() - self.checked > self.interval
            if due:
                self.checked = time.monotonic()
        if due:
            threading.Thread(target=self._check, args=(celery_app,), daemon=True).start()
        return self.result

    def _check(self, celery_app: Any) -> None:
        try:
            with celery_app.connection_for_write(connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1, timeout=3)
            self.result = None
        except Exception as exc:  # any failure to connect is what the banner reports
            self.result = f"the broker does not answer ({type(exc).__name__}: {exc})"


@ui.app_context_processor
def _banner() -> dict[str, Any]:
    """Banners every page shows: broker unreachable, or jobs overdue (no worker takes them)."""
    if "baton" not in current_app.extensions:
        return {}
    eng = engine()
    banners = []
    probe = current_app.extensions.setdefault("baton_broker_probe", BrokerProbe())
    broker = probe.problem(eng)
    if broker:
        banners.append(f"Jobs cannot be sent: {broker}. They wait in the database and go out once it is back.")
    try:
        health = eng.worker_health(current_app.config.get("BATON_UI_OVERDUE_SECONDS", 30.0))
    except Exception:  # the database itself is down: the page will say so on its own
        health = {"overdue_jobs": 0}
    if health["overdue_jobs"]:
        banners.append(f"{health['overdue_jobs']} job(s) are overdue by up to {int(health['overdue_for_s'])} s: "
                       "no worker seems to be taking jobs. Is `baton worker` running?")
    return {"banners": banners, "statuses": STATUSES, "live_token": lambda: eng.changes_token()}


@ui.app_template_filter("when")
def _when(value: str | None) -> str:
    """ISO time as the UI shows it: ``2026-11-23 05:40:03`` (UTC), to the second."""
    return value.replace("T", " ")[:19] if value else ""


# -- error pages -------------------------------------------------------------------------------

def _wants_html() -> bool:
    return not request.path.startswith("/api/")


@ui.app_errorhandler(404)
def _not_found(exc: HTTPException) -> Any:
    if not _wants_html():
        from .problems import http_problem

        return http_problem(exc)
    return render_template("404.html", message=exc.description), 404


@ui.app_errorhandler(413)
def _too_large(exc: HTTPException) -> Any:
    if not _wants_html():
        from .problems import problem

        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        return problem(413, "Payload too large", f"the request is larger than {limit} bytes; nothing was changed")
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    problems = [{"file": "upload", "line": None, "element_id": None,
                 "reason": f"the upload is larger than {limit // 1024} KiB; nothing was deployed"}]
    if request.path.startswith(url_for("ui.modeler")):
        return jsonify({"problems": problems}), 413
    from .ui_definitions import render_definitions

    return render_definitions(problems=problems, status=413)


# -- pages -------------------------------------------------------------------------------------

@ui.get("/")
@requires("viewer")
def dashboard() -> str:
    return render_template("dashboard.html", overview=engine().monitor_overview())


@ui.get("/search")
@requires("viewer")
def search() -> Any:
    """The header's box: an exact id or key opens the instance; anything else (part of a key,
    ``trip*``, ``*trip*``) opens the instance list searching by prefix, or by part when no key
    starts with it. Never a 404: the list says when nothing matches."""
    text = request.args.get("q", "").strip()[:200]
    if not text:
        return redirect(url_for("ui.instances"))
    found = engine().lookup_instances(text) if text.strip("*") == text else []
    if len(found) == 1:
        return redirect(url_for("ui.instance", instance_id=found[0]))
    if found:
        return redirect(url_for("ui.instances", business_key=text))
    bare = text.strip("*") or text
    match = "contains" if text.startswith("*") else "prefix"
    if match == "prefix":
        try:
            if not engine().find_instances(business_key=bare, key_match="prefix", limit=1)["items"]:
                match = "contains"
        except InvalidRequest:
            match = "contains"
    return redirect(url_for("ui.instances", business_key=bare, key_match=match))


def _instance_filters() -> dict[str, Any]:
    args = request.args
    return {
        "definition": args.get("definition") or None, "version": int_arg("version"),
        "status": args.get("status") or None, "business_key": args.get("business_key", "").strip()[:200] or None,
        "key_match": args.get("key_match") if args.get("key_match") in MATCHES else None,
        "started_from": when_arg("started_from"), "started_to": when_arg("started_to"),
        "variable": args.get("variable", "").strip() or None, "value": args.get("value", ""),
        "value_match": args.get("value_match") if args.get("value_match") in MATCHES else "exact",
        "element": args.get("element", "").strip() or None,
        "element_state": args.get("element_state") if args.get("element_state") in ELEMENT_STATES else "active",
        "incident": {"yes": True, "no": False}.get(args.get("incident", "")),
    }


@ui.get("/instances")
@requires("viewer")
def instances() -> Any:
    filters = _instance_filters()
    sort = request.args.get("sort", "started")
    descending = request.args.get("order", "desc") != "asc"
    limit = int_arg("limit", 50) or 50
    try:
        page = engine().find_instances(**filters, sort=sort, descending=descending,
                                       after=request.args.get("after"), before=request.args.get("before"),
                                       limit=limit if limit in PAGE_SIZES else 50)
    except InvalidRequest as exc:
        flash(str(exc), "error")
        page = {"items": [], "total": 0, "total_capped": False, "next": None, "prev": None, "limit": limit}
    return render_template("instances.html", page=page, definition_keys=engine().definition_keys(),
                           sort=sort, descending=descending, page_sizes=PAGE_SIZES, matches=MATCHES,
                           element_states=ELEMENT_STATES)


@ui.post("/instances/bulk")
@requires("operator")
def bulk_instances() -> Any:
    """The instance list's selection bar: one action on every ticked instance, a result each."""
    action = request.form.get("action", "")
    ids = request.form.getlist("selected")
    back = request.form.get("next") or ""
    back = back if back.startswith("/") and not back.startswith(("//", "/\\")) else url_for("ui.instances")
    if action not in BULK_ACTIONS:
        flash(f"Unknown action '{action[:40]}'.", "error")
        return redirect(back)
    if not ids:
        flash("Select the instances first: tick their boxes in the list.", "error")
        return redirect(back)
    identity = current_identity()
    try:
        results = engine().act_on_instances(action, ids, reason=request.form.get("reason", "").strip() or None,
                                            by=identity.label if identity else "")
    except BatonError as exc:
        flash(str(exc), "error")
        return redirect(back)
    return render_template("bulk_results.html", action=action, done=BULK_ACTIONS[action], results=results,
                           back=back, ok=sum(1 for r in results if r["ok"]))


@ui.get("/incidents")
@requires("viewer")
def incidents() -> str:
    args = request.args
    state = args.get("state", "open")
    items = engine().find_incidents(state=state, definition=args.get("definition") or None,
                                    element_id=args.get("element") or None, text=args.get("text") or None)
    return render_template("incidents.html", items=items, state=state, definition_keys=engine().definition_keys())


@ui.post("/incidents/retry")
@requires("operator")
def retry_incidents() -> Any:
    """Retry one incident (``incident``) or every selected one (``selected``)."""
    one = request.form.get("incident")  # a row's own button wins over the ticked boxes
    ids = [one] if one else request.form.getlist("selected")
    if not ids:
        flash("Select the incidents to retry first.", "error")
    retried, failed = 0, []
    for incident_id in ids:
        try:
            engine().retry_incident(incident_id)
            retried += 1
        except BatonError as exc:
            failed.append(f"{incident_id[:8]}: {exc}")
    if retried:
        flash(f"Retried {retried} incident(s); their jobs run again from attempt 1.", "ok")
    for message in failed:
        flash(message, "error")
    back = request.form.get("next") or ""
    return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("ui.incidents"))


@ui.get("/ui/changes")
@requires("viewer")
def changes() -> Response:
    """The live token for lists (no ``instance``) or one instance: poll it, re-fetch on change."""
    instance_id = request.args.get("instance")
    try:
        token = engine().changes_token(instance_id)
    except BatonError:
        token = "gone"
    response = jsonify({"token": token})
    response.headers["Cache-Control"] = "no-store"
    return response


# The other pages register their routes on ``ui`` when imported.
from . import ui_admin, ui_decisions, ui_definitions, ui_instance, ui_tasks, ui_trace  # noqa: E402,F401
