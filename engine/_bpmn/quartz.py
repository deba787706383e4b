"""Quartz cron timer cycles, as Camunda 7 reads a ``timeCycle`` like ``0 0/5 * * * ?``.

Camunda 7 takes a timer cycle either as ISO 8601 (``R3/PT10M``) or as a Quartz cron expression:
six or seven fields, ``seconds minutes hours day-of-month month day-of-week [year]``, where
one of the two day fields is ``?``, days of week run 1-7 from Sunday (or ``SUN``-``SAT``), months
1-12 (or ``JAN``-``DEC``). Each field is ``*``, a value, a range ``a-b``, a step ``a/n`` or
``a-b/n`` or ``*/n``, or a list of those. Quartz's ``L``, ``W`` and ``#`` (last day, nearest
weekday, n-th weekday) are refused at deploy, naming the element, rather than misread.

The cycle fires at every time the expression matches, for ever (as in Camunda), computed in UTC
(Camunda uses the server's time zone; Baton's clock is UTC throughout). :class:`QuartzCycleTimer`
is SpiffWorkflow's cycle timer that also reads cron: each firing computes the next due time,
which Baton's timer jobs (``outbox.timer_due``) wake up for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.util.task import TaskState

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAMES = {"month": {m: i + 1 for i, m in enumerate(_MONTHS)},
          "day of week": {d: i + 1 for i, d in enumerate(_WEEKDAYS)}}
_FIELDS = [("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 1, 7), ("year", 1970, 2199)]
_SHAPE = re.compile(r"^\S+(\s+\S+){5,6}$")
#: how far ahead a next firing is looked for (a cron that never matches, e.g. 30 February)
SEARCH_YEARS = 8


def refusal(text: str, where: str = "timeCycle") -> str | None:
    """Why deploy refuses the cron ``text`` in a timer's ``where`` (timeCycle, ...), or None."""
    if where != "timeCycle":
        return f"a cron expression is a cycle: put it in a timeCycle, not a {where}"
    try:
        schedule = parse(text.strip())
    except ValueError as exc:
        return str(exc)
    if schedule.next_after(datetime.now(UTC)) is None:
        return f"it matches no time in the next {SEARCH_YEARS} years"
    return None


def looks_like_cron(text: str) -> bool:
    """Whether ``text`` has the shape of a cron expression (fields separated by blanks)."""
    return bool(_SHAPE.match(text.strip())) and not text.strip().upper().startswith(("R", "P"))


@dataclass(frozen=True)
class CronSchedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: '?' (the day of week decides)
    months: frozenset[int]
    weekdays: frozenset[int] | None  # Quartz numbering, 1 = Sunday; None: '?'
    years: frozenset[int] | None

    def next_after(self, moment: datetime) -> datetime | None:
        """The first time after ``moment`` (UTC) that matches, or None within ``SEARCH_YEARS``."""
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        for _ in range(366 * SEARCH_YEARS):
            if self._day_matches(day):
                first = start.time() if day == start.date() else None
                found = self._time_in_day(first)
                if found is not None:
                    hour, minute, second = found
                    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: Any) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        if self.days is not None and day.day not in self.days:
            return False
        quartz_weekday = (day.weekday() + 1) % 7 + 1  # Monday 0 -> 2, Sunday 6 -> 1
        return self.weekdays is None or quartz_weekday in self.weekdays

    def _time_in_day(self, after: Any) -> tuple[int, int, int] | None:
        for hour in sorted(self.hours):
            if after is not None and hour < after.hour:
                continue
            for minute in sorted(self.minutes):
                if after is not None and (hour, minute) < (after.hour, after.minute):
                    continue
                for second in sorted(self.seconds):
                    if after is None or (hour, minute, second) >= (after.hour, after.minute, after.second):
                        return hour, minute, second
        return None


def parse(text: str) -> CronSchedule:
    """The schedule of a Quartz cron ``text``; ``ValueError`` says what is wrong or unsupported."""
    parts = text.split()
    if len(parts) not in (6, 7):
        raise ValueError(f"a Quartz cron expression has 6 or 7 fields (seconds first), not {len(parts)}")
    values: list[frozenset[int] | None] = []
    for part, (name, low, high) in zip(parts, _FIELDS, strict=False):
        values.append(_field(part.upper(), name, low, high))
    if len(values) == 6:
        values.append(None)
    if (values[3] is None) == (values[5] is None):
        raise ValueError("one of day-of-month and day-of-week must be '?' (and only one), as Quartz requires")
    seconds, minutes, hours, days, months, weekdays, years = values
    assert seconds is not None and minutes is not None and hours is not None and months is not None
    return CronSchedule(seconds, minutes, hours, days, months, weekdays, years)


def _field(part: str, name: str, low: int, high: int) -> frozenset[int] | None:
    if part == "?":
        if name not in ("day of month", "day of week"):
            raise ValueError(f"'?' is allowed in the day fields only, not in the {name} field")
        return None
    unnamed = part
    for label in _NAMES.get(name, {}):
        unnamed = unnamed.replace(label, "")
    if any(c in unnamed for c in "LW#"):
        raise ValueError(f"{name} field {part!r}: Quartz's L, W and # are not supported by Baton")
    found: set[int] = set()
    for item in part.split(","):
        step, stepped = 1, "/" in item
        if stepped:
            item, step_text = item.split("/", 1)
            step = _number(step_text, name, 1, high)
        if item in ("*", ""):
            first, last = low, high
        elif "-" in item:
            a, b = item.split("-", 1)
            first, last = _number(a, name, low, high), _number(b, name, low, high)
        else:
            first = _number(item, name, low, high)
            last = high if stepped else first
        if first > last:
            raise ValueError(f"{name} field {part!r}: the range {first}-{last} is empty")
        found.update(range(first, last + 1, step))
    return frozenset(found)


def _number(text: str, name: str, low: int, high: int) -> int:
    value = _NAMES.get(name, {}).get(text)
    if value is None:
        if not text.isdigit():
            raise ValueError(f"{name} field: {text!r} is not a number")
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name} field: {value} is outside {low}-{high}")
    return value


class QuartzCycleTimer(CycleTimerEventDefinition):
    """A timer cycle that is a Quartz cron expression (or, as before, ISO 8601)."""

    def cycle_complete(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None or "cron" not in event_value:
            text = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if not (isinstance(text, str) and looks_like_cron(text)):
                return bool(super().cycle_complete(my_task))
            due = parse(text.strip()).next_after(datetime.now(UTC))
            event_value = {"cron": text.strip(), "cycles": -1, "duration": 0,
                           "next": due.isoformat() if due else None}
        ready = False
        due_text = event_value.get("next")
        if due_text is not None and datetime.fromisoformat(due_text) <= datetime.now(UTC):
            following = parse(event_value["cron"]).next_after(datetime.fromisoformat(due_text))
            event_value["next"] = following.isoformat() if following else None
            ready = True
        my_task._set_internal_data(event_value=event_value)
        return ready


    def update_task(self, my_task: Any) -> None:
        if not getattr(my_task.task_spec, "cancel_activity", False) or not self._is_cron(my_task):
            super().update_task(my_task)  # SpiffWorkflow's cycle: each firing takes the path again
            return
        if self.cycle_complete(my_task):  # an interrupting boundary event fires once, at the first match
            for output in my_task.task_spec.outputs:  # its path, as SpiffWorkflow's cycle starts it
                child = my_task._add_child(output, TaskState.FUTURE)
                child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
            my_task.internal_data.pop("event_value", None)
            my_task._set_internal_data(event_fired=True)  # and it completes: the activity is interrupted
            my_task.task_spec._update(my_task)

    def _is_cron(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is not None:
            return "cron" in event_value
        text = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        return isinstance(text, str) and looks_like_cron(text)


def attach(specs: list[Any]) -> None:
    """Make every cycle timer of ``specs`` one that also reads cron."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if type(definition) is CycleTimerEventDefinition:
                task_spec.event_definition = QuartzCycleTimer(definition.name, definition.expression,
                                                              description=definition.description)
