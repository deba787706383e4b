"""The sandbox process: run as a script (``python -I sandbox_child.py LIMIT``), never imported.

It is a plain script, not a module of the ``engine`` package, so that starting one imports
RestrictedPython and nothing else: no SQLAlchemy, no SpiffWorkflow, not the parent's
``__main__`` (what made a ``multiprocessing`` spawn take seconds on a busy machine).

Protocol, on private copies of stdin/stdout (fds 0 and 1 then point at ``/dev/null``, so nothing
a script prints can corrupt it): each frame is a 4-byte big-endian length and a JSON document.
The child first sends ``{"ready": true}`` once everything a request needs is imported and
compiled once; then, per request ``[kind, source, data, names]``, one reply ``{"ok": true,
"result": ...}`` or ``{"ok": false, "message": ..., "line": ...}``. End of input ends the child.

``names`` says which names a script sees besides its data: ``"baton"`` (every dialect:
``datetime`` the class, ``date``, ``timedelta``) or ``"spiffarena"`` (SpiffArena's script
globals, for diagrams of its dialect: ``datetime``, ``timedelta``, ``time``, ``decimal``,
``calendar``, ``json``, ``random``, ``re``, ``uuid``, ``format``, ``sanitize_for_md``). A module is
never handed to a script: each is a :class:`_Namespace` holding only the functions, classes and
constants named below, so no attribute leads to ``os``, ``sys`` or a module's globals.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import struct
import sys
import traceback
from datetime import date, datetime, timedelta
from typing import Any

# Seconds of CPU one request may use before the kernel ends the child (SIGXCPU). The parent's
# wall-clock limit normally ends an overrun first; this stops a loop whose parent died mid-request.
CPU_SECONDS_PER_REQUEST = 30


class ScriptError(Exception):
    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.reason = message
        super().__init__(message)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, missing)
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int) -> bytes | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    return _read_exact(fd, struct.unpack(">I", head)[0])


def _send(fd: int, document: Any) -> None:
    body = json.dumps(document, default=str).encode()
    view = memoryview(struct.pack(">I", len(body)) + body)
    while view:
        view = view[os.write(fd, view):]


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops = {"+=": lambda: x + y, "-=": lambda: x - y, "*=": lambda: x * y, "/=": lambda: x / y,
           "//=": lambda: x // y, "%=": lambda: x % y, "**=": lambda: x ** y, "|=": lambda: x | y,
           "&=": lambda: x & y, "^=": lambda: x ^ y}
    if op not in ops:
        raise ScriptError(f"operator {op} is not allowed")
    return ops[op]()


# Attribute names that reach frames, code objects, tracebacks or the class hierarchy without a
# leading underscore (RestrictedPython refuses underscore names at compile time already).
_FORBIDDEN_ATTRIBUTES = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "cr_frame", "cr_code", "cr_await", "cr_origin",
    "ag_frame", "ag_code", "ag_await", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace",
    "tb_frame", "tb_next", "co_code", "co_consts", "co_names", "func_globals", "func_code", "mro",
    "format", "format_map", "im_func", "im_self", "im_class",
})


def _guarded_getattr(obj: Any, name: str, default: Any = None, getattr: Any = getattr) -> Any:
    import types

    from RestrictedPython.Guards import safer_getattr

    if not isinstance(name, str) or name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
        raise ScriptError(f"access to attribute {name!r} is not allowed")
    if isinstance(obj, types.ModuleType | types.FrameType | types.CodeType | types.TracebackType):
        raise ScriptError(f"access to {type(obj).__name__} objects is not allowed")
    return safer_getattr(obj, name, default, getattr)


class _Namespace:
    """The safe part of a module: only ``attributes`` can be read, nothing can be set.

    Not a module and not a class: there is no ``__dict__`` of the module behind it to walk, and
    underscore names are refused by RestrictedPython before they reach it. ``fallback`` (a class)
    answers the other names, so SpiffArena's ``datetime`` (the class: ``datetime.now()``) and
    SpiffWorkflow's examples' ``datetime`` (the module: ``datetime.datetime.now()``) both run."""

    __slots__ = ("_name", "_attributes", "_fallback")

    def __init__(self, name: str, attributes: dict[str, Any], fallback: Any = None) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_attributes", attributes)
        object.__setattr__(self, "_fallback", fallback)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._attributes:
            return self._attributes[name]
        if self._fallback is not None:
            return getattr(self._fallback, name)
        raise AttributeError(f"{self._name}.{name} is not available to scripts")

    def __setattr__(self, name: str, value: Any) -> None:
        raise ScriptError(f"{self._name} cannot be changed")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fallback is None:
            raise ScriptError(f"{self._name} is not callable")
        return self._fallback(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<{self._name}>"


def _pick(module: Any, names: str) -> dict[str, Any]:
    return {name: getattr(module, name) for name in names.split()}


def _sanitize_for_md(value: str) -> str:
    """SpiffArena's ``sanitize_for_md``: Markdown's special characters escaped, line breaks dropped."""
    import re

    escaped = re.sub(r"([_*\[\]()~`#+\-=|{}!])", r"\\\1", str(value))
    return escaped.replace("\n", "").replace("\r", "")


def _spiffarena_names() -> dict[str, Any]:
    """SpiffArena's script globals (its ``CustomBpmnScriptEngine``), each module reduced to a
    :class:`_Namespace`. ``pytz`` and ``dateparser`` are not installed here: a script using them
    fails with a NameError naming them."""
    import calendar
    import datetime as datetime_module
    import decimal
    import json as json_module
    import random
    import re
    import time
    import uuid

    return {
        "datetime": _Namespace("datetime", _pick(datetime_module, "datetime date time timedelta timezone "
                                                                  "tzinfo MINYEAR MAXYEAR"),
                               fallback=datetime_module.datetime),
        "timedelta": timedelta,
        "date": date,
        "time": _Namespace("time", _pick(time, "time time_ns monotonic perf_counter sleep strftime strptime "
                                               "gmtime localtime mktime ctime asctime struct_time timezone "
                                               "altzone tzname daylight")),
        "decimal": _Namespace("decimal", _pick(decimal, "Decimal InvalidOperation DivisionByZero ROUND_UP "
                                                        "ROUND_DOWN ROUND_CEILING ROUND_FLOOR ROUND_HALF_UP "
                                                        "ROUND_HALF_DOWN ROUND_HALF_EVEN ROUND_05UP")),
        "calendar": _Namespace("calendar", _pick(calendar, "monthrange isleap leapdays weekday timegm "
                                                           "monthcalendar month_name month_abbr day_name day_abbr "
                                                           "MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY "
                                                           "SUNDAY")),
        "json": _Namespace("json", _pick(json_module, "loads dumps JSONDecodeError")),
        "random": _Namespace("random", _pick(random, "random randint randrange choice choices sample shuffle "
                                                     "uniform gauss")),
        "re": _Namespace("re", _pick(re, "match search fullmatch findall finditer sub subn split compile "
                                         "escape IGNORECASE I MULTILINE M DOTALL S VERBOSE X ASCII A")),
        # uuid1 is left out: finding the host's MAC address may start a program
        "uuid": _Namespace("uuid", _pick(uuid, "uuid4 uuid3 uuid5 UUID NAMESPACE_DNS NAMESPACE_URL "
                                               "NAMESPACE_OID NAMESPACE_X500")),
        "format": format,
        "sanitize_for_md": _sanitize_for_md,
    }


_SPIFFARENA: dict[str, Any] = {}


def _import_spiffarena_name(name: str, *args: Any, **kwargs: Any) -> Any:
    """``import json`` in a SpiffArena script: only its own names (as SpiffArena allows), no module."""
    found = _SPIFFARENA.get(name)
    if not isinstance(found, _Namespace):
        raise ScriptError(f"import {name} is not allowed (a script may import {', '.join(_IMPORTABLE)})")
    return found


_IMPORTABLE = ("calendar", "datetime", "decimal", "json", "random", "re", "time", "uuid")


def _globals(names: str = "baton") -> dict[str, Any]:
    from RestrictedPython import safe_builtins
    from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
    from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence

    builtins = {k: v for k, v in safe_builtins.items()
                if k not in ("setattr", "delattr", "__build_class__", "_getattr_", "id", "hash")}
    builtins.update({
        "list": list, "dict": dict, "set": set, "tuple": tuple, "sorted": sorted, "min": min, "max": max,
        "sum": sum, "any": any, "all": all, "enumerate": enumerate, "zip": zip, "map": map, "filter": filter,
        "reversed": reversed, "frozenset": frozenset,
        "datetime": datetime, "date": date, "timedelta": timedelta,
        "getattr": _guarded_getattr,
    })
    if names == "spiffarena":
        if not _SPIFFARENA:
            _SPIFFARENA.update(_spiffarena_names())
        builtins.update(_SPIFFARENA)
        builtins["__import__"] = _import_spiffarena_name
    return {
        "__builtins__": builtins,
        "_getattr_": _guarded_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_iter_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "_print_": None,
    }


def _compile(kind: str, source: str, cache: dict[tuple[str, str], Any]) -> Any:
    from RestrictedPython import compile_restricted_eval, compile_restricted_exec

    key = (kind, source)
    if key not in cache:
        result = (compile_restricted_eval if kind == "eval" else compile_restricted_exec)(source, "<script>")
        if result.errors:
            first = result.errors[0]
            line = None
            if first.startswith("Line "):
                head, _, rest = first.partition(":")
                try:
                    line = int(head[5:])
                    first = rest.strip()
                except ValueError:
                    pass
            raise ScriptError(f"not allowed: {first}", line)
        if len(cache) > 512:  # a long-lived child must not grow without bound
            cache.clear()
        cache[key] = result.code
    return cache[key]


def _run(kind: str, source: str, data: dict[str, Any], cache: dict[tuple[str, str], Any],
         names: str = "baton") -> Any:
    code = _compile(kind, source, cache)
    scope = _globals(names)
    local = dict(data)
    try:
        if kind == "eval":
            return eval(code, scope, local)  # noqa: S307 - restricted code in the sandbox process
        exec(code, scope, local)  # noqa: S102 - restricted code in the sandbox process
    except ScriptError:
        raise
    except RecursionError as exc:
        raise ScriptError("recursion too deep") from exc
    except Exception as exc:
        line = None
        for frame in traceback.extract_tb(sys.exc_info()[2]):
            if frame.filename == "<script>":
                line = frame.lineno
        raise ScriptError(f"{type(exc).__name__}: {exc}", line) from exc
    return {k: v for k, v in local.items()
            if not callable(v) and not isinstance(v, _Namespace) and not k.startswith("_")}


def _answer(request: bytes, cache: dict[tuple[str, str], Any]) -> dict[str, Any]:
    try:
        kind, source, data, *names = json.loads(request)
        return {"ok": True, "result": _run(kind, source, data, cache, *names)}
    except ScriptError as exc:
        return {"ok": False, "message": exc.reason, "line": exc.line}
    except MemoryError:
        return {"ok": False, "message": "the script ran out of memory", "line": None}
    except BaseException as exc:  # anything a script does must come back as a message
        return {"ok": False, "message": f"{type(exc).__name__}: {exc}", "line": None}


def _limit_cpu(seconds: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime) + seconds
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def main(memory_limit: int) -> None:
    requests, replies = os.dup(0), os.dup(1)
    quiet = os.open(os.devnull, os.O_RDWR)
    os.dup2(quiet, 0)
    os.dup2(quiet, 1)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    cache: dict[tuple[str, str], Any] = {}
    _answer(json.dumps(["eval", "1 == 1", {}]).encode(), cache)  # import and compile once, before "ready"
    cache.clear()
    _send(replies, {"ready": True, "pid": os.getpid()})
    while True:
        request = _receive(requests)
        if request is None:
            return
        _limit_cpu(CPU_SECONDS_PER_REQUEST)
        reply = _answer(request, cache)
        try:
            _send(replies, reply)
        except (TypeError, ValueError, MemoryError) as exc:  # a circular list, a result too big to encode
            _send(replies, {"ok": False, "message": f"the result cannot be stored: {type(exc).__name__}",
                            "line": None})


if __name__ == "__main__":
    main(int(sys.argv[1]))
