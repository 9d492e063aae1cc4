"""Crontab lines read the way cron(8) reads them, for sources, digests and the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

_CRONTAB_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(expression: str, jitter: int | None = None) -> CronTrigger:
    """A crontab line as cron(8) reads it, in the host's local time. APScheduler 3 numbers
    weekdays from Monday = 0, crontab from Sunday = 0 (and 7); numbers become names here.
    Raises ValueError, whatever is wrong with the line."""
    from apscheduler.triggers.cron import CronTrigger  # APScheduler (and asyncio): only where a cron line is read

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"Wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_weekday_names(weekday),
                       jitter=jitter)


def _weekday_names(field: str) -> str:
    if not any(c.isdigit() for c in field.replace("*/", "")):
        return field  # '*', or names only: the same in both numberings
    days: list[str] = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = 0, 6
        else:
            start, _, end = span.partition("-")
            first = _crontab_weekday(start)
            last = _crontab_weekday(end) if end else (6 if step else first)
        if step and not (step.isdigit() and int(step) >= 1):
            raise ValueError(f"step {step!r} in {field!r} is not a whole number of days of at least 1")
        days += [_CRONTAB_WEEKDAYS[n] for n in range(first, last + 1, int(step or 1))]
    return ",".join(dict.fromkeys(days))


def _crontab_weekday(token: str) -> int:
    number = int(token) if token.isdigit() else (_CRONTAB_WEEKDAYS.index(token.lower()[:3]) if token.lower()[:3] in _CRONTAB_WEEKDAYS else -1)
    if not 0 <= number <= 7:
        raise ValueError(f"{token!r} is not a day of the week: 0-7 (0 and 7 are Sunday) or sun, mon, … sat")
    return number
