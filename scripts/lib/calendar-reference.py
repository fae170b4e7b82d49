"""Reference recurrence expansion for comparing OpenZero's Rust expander.

Run through scripts/calendar-reference (which builds the pinned venv):

  calendar-reference expand --tz ZONE --from YYYY-MM-DD --to YYYY-MM-DD [OPTIONS] PATH...
  calendar-reference bench  --tz ZONE --from YYYY-MM-DD --to YYYY-MM-DD [--repeat N] [OPTIONS] PATH...

OPTIONS: --skip-bad-series, --library-ends (below).

PATH is an .ics file or a directory (searched recursively for *.ics, sorted).
Parsing is icalendar, expansion recurring-ical-events (which also applies
x-wr-timezone: a calendar-wide X-WR-TIMEZONE turns its UTC times into that
zone). Only VEVENTs. Time zones come from the pinned tzdata package, never the
system's zoneinfo, so results do not depend on the machine. Each file is
read on its own: icalendar's process-wide cache of VTIMEZONE-defined zones
is cleared before each, so a file never uses another file's VTIMEZONE.

expand prints one JSON object per line per occurrence:
  {"file": PATH, "uid": str|null, "summary": str|null,
   "start": S, "end": E, "all_day": bool}
Timed occurrences: S and E are RFC 3339 (YYYY-MM-DDTHH:MM:SS+HH:MM) converted
to the owner zone ZONE; floating times are taken in ZONE (a local time in a
DST gap moves forward by the gap, an ambiguous one takes the first, DST,
offset: RFC 5545). An occurrence's end follows RFC 5545 3.8.5.3: a series
given with DTEND lasts the exact time DTSTART..DTEND every time; one given
with DURATION ends its days later at the same local time (nominal, in
DTSTART's zone) plus its hours/minutes/seconds exactly; no DTEND and no
DURATION: end = start. Overrides (RECURRENCE-ID) and RDATE periods keep
their own ends. (--library-ends keeps recurring-ical-events' ends instead:
the length added as wall-clock time, an hour off across a DST change.)
All-day occurrences (DTSTART a DATE): S and E are YYYY-MM-DD, E exclusive
(no DTEND and no DURATION: one day). A DATE DTSTART with a DURATION of hours
comes out as a timed occurrence from midnight (floating), as
recurring-ical-events makes it.
An occurrence is kept if it overlaps [FROM, TO), both midnight in ZONE:
start < TO and end > FROM; an occurrence of no length (end == start) is kept
if FROM <= start < TO (RFC 4791 time-range). All-day occurrences compare as
dates. STATUS:CANCELLED occurrences are not removed; a VEVENT without
DTSTART has no occurrence (not an error).
Lines are sorted by file (path as given, or joined to the directory given),
start instant (an all-day one
at midnight in ZONE), uid, end. A file that fails to read, parse or expand
prints only {"file": PATH, "error": MESSAGE}; the run goes on. With
--skip-bad-series a broken series (bad RRULE, end before start, ...) is
skipped instead and the rest of the file is kept.

bench reads the files once, then parses, expands and converts all of them
--repeat times and prints {"seconds_per_run": X, "occurrences": N} (N for one
run); the time is measured in-process (time.perf_counter), without the
interpreter's start and the file reads. Files that fail count no occurrences;
their number is printed to stderr.
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
import zoneinfo

# Use the pinned tzdata wheel, not /usr/share/zoneinfo: must run before any
# ZoneInfo is made (icalendar makes them).
zoneinfo.reset_tzpath(to=[])

import icalendar  # noqa: E402
import recurring_ical_events  # noqa: E402

DAY = dt.timedelta(days=1)
UTC = dt.timezone.utc


def parse_date(text):
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def parse_zone(text):
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone: {text!r}") from None


class Window:
    """[from, to) in the owner zone."""

    def __init__(self, tz, start, stop):
        self.tz = tz
        self.start_date = start
        self.stop_date = stop
        self.start = self.midnight(start)
        self.stop = self.midnight(stop)
        # recurring-ical-events reads naive bounds in each series' own zone:
        # ask it for a wider span (no zone is more than a day off) and cut
        # exactly here.
        self.query_start = dt.datetime.combine(start - 2 * DAY, dt.time())
        self.query_stop = dt.datetime.combine(stop + 2 * DAY, dt.time())

    def midnight(self, day):
        return self.local(dt.datetime.combine(day, dt.time()))

    def local(self, value):
        """A datetime as an aware datetime in the owner zone (naive = floating
        = owner zone; normalised through UTC so a time in a DST gap moves
        forward)."""
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            value = value.replace(tzinfo=self.tz)
        return value.astimezone(UTC).astimezone(self.tz)


def is_date(value):
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def as_end_date(value):
    """An all-day occurrence's end as a date (a datetime rounds up)."""
    if is_date(value):
        return value
    day = value.date()
    return day + DAY if value.time() != dt.time() else day


def text_or_none(value):
    return None if value is None else str(value)


STASH = "X-OPENZERO-REFERENCE-END"


def exact_seconds(delta):
    return delta.days * 86400 + delta.seconds + delta.microseconds / 1e6


def stash_ends(calendar, window):
    """Note on each master VEVENT how its occurrences end (RFC 5545 3.8.5.3),
    in a property its occurrence copies keep: "exact:SECONDS" for DTEND (the
    exact duration of DTSTART..DTEND) or "nominal:DAYS:SECONDS" for DURATION.
    recurring-ical-events adds DTEND - DTSTART or DURATION to each start as
    wall-clock time, which differs across a DST change. Not noted (its ends
    are kept): overrides (RECURRENCE-ID), all-day and mixed DATE/DATE-TIME
    events, negative lengths, events with RDATE periods."""
    for event in calendar.walk("VEVENT"):
        if "RECURRENCE-ID" in event or "DTSTART" not in event:
            continue
        try:
            rdates = event.get("RDATE", [])
            periods = any(
                rdate.params.get("VALUE", "").upper() == "PERIOD"
                or any(isinstance(p.dt, tuple) for p in rdate.dts)
                for rdate in (rdates if isinstance(rdates, list) else [rdates])
            )
            start = event["DTSTART"].dt
            end = event["DTEND"].dt if "DTEND" in event else None
            duration = event["DURATION"].dt if "DURATION" in event else None
        except Exception:  # noqa: BLE001 - broken: left to the library to report
            continue
        if not periods:
            if not isinstance(start, dt.datetime):
                continue
            if end is not None:
                if not isinstance(end, dt.datetime):
                    continue
                seconds = exact_seconds(window.local(end) - window.local(start))
                if seconds >= 0:
                    event[STASH] = f"exact:{seconds!r}"
            elif duration is not None:
                if isinstance(duration, dt.timedelta) and duration >= dt.timedelta(0):
                    event[STASH] = f"nominal:{duration.days}:{duration.seconds + duration.microseconds / 1e6!r}"


def rfc_end(event, start, window):
    """The RFC 5545 end of a timed occurrence starting at START (aware, in
    the owner zone), or None to keep the library's."""
    note = event.get(STASH)
    if note is None:
        return None
    kind, _, rest = str(note).partition(":")
    if kind == "exact":
        return (start.astimezone(UTC) + dt.timedelta(seconds=float(rest))).astimezone(window.tz)
    days, _, seconds = rest.partition(":")
    # Days are nominal: the same local time DAYS later, in the start's own
    # zone (floating: the owner zone); the time part is exact.
    own = event["DTSTART"].dt
    zone = own.tzinfo if isinstance(own, dt.datetime) and own.tzinfo is not None else window.tz
    wall = start.astimezone(zone).replace(tzinfo=None) + dt.timedelta(days=int(days))
    nominal = wall.replace(tzinfo=zone).astimezone(UTC)
    return (nominal + dt.timedelta(seconds=float(seconds))).astimezone(window.tz)


def occurrences_of(path, data, window, options):
    """The occurrences in one file's bytes as (sort key, JSON dict) pairs."""
    # Forget time zones that earlier files defined in VTIMEZONEs (icalendar
    # caches them by TZID process-wide): each file stands alone.
    icalendar.use_zoneinfo()
    calendars = icalendar.Calendar.from_ical(data, multiple=True)
    if not calendars:
        raise ValueError("no iCalendar component in the file")
    out = []
    for calendar in calendars:
        if calendar.name == "VEVENT" and "DTSTART" not in calendar:
            continue
        # A VEVENT without DTSTART (allowed with METHOD, RFC 5545 3.6.1) has
        # no occurrence: dropped (recurring-ical-events would fail the file).
        calendar.subcomponents = [
            c for c in calendar.subcomponents if c.name != "VEVENT" or "DTSTART" in c
        ]
        if not options.library_ends:
            stash_ends(calendar, window)
        query = recurring_ical_events.of(
            calendar, components=["VEVENT"], skip_bad_series=options.skip_bad_series
        )
        for event in query.between(window.query_start, window.query_stop):
            start = event["DTSTART"].dt
            end_prop = event.get("DTEND")
            end = end_prop.dt if end_prop is not None else start
            uid = text_or_none(event.get("UID"))
            summary = text_or_none(event.get("SUMMARY"))
            if is_date(start):
                end = as_end_date(end)
                if end == start:
                    keep = window.start_date <= start < window.stop_date
                else:
                    keep = start < window.stop_date and end > window.start_date
                if not keep:
                    continue
                key_start = window.midnight(start)
                key_end = window.midnight(end)
                start_s, end_s, all_day = start.isoformat(), end.isoformat(), True
            else:
                start = window.local(start)
                end = rfc_end(event, start, window) or (
                    window.local(end) if not is_date(end) else window.midnight(end)
                )
                if end == start:
                    keep = window.start <= start < window.stop
                else:
                    keep = start < window.stop and end > window.start
                if not keep:
                    continue
                key_start, key_end = start, end
                start_s = start.replace(microsecond=0).isoformat()
                end_s = end.replace(microsecond=0).isoformat()
                all_day = False
            out.append(
                (
                    (key_start.astimezone(UTC), uid or "", key_end.astimezone(UTC)),
                    {
                        "file": path,
                        "uid": uid,
                        "summary": summary,
                        "start": start_s,
                        "end": end_s,
                        "all_day": all_day,
                    },
                )
            )
    out.sort(key=lambda pair: pair[0])
    return out


def error_message(exc):
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def expand_path(path, data, window, options):
    """One file's output lines: occurrences, or one error line."""
    if isinstance(data, Exception):
        return [{"file": path, "error": error_message(data)}]
    try:
        return [obj for _, obj in occurrences_of(path, data, window, options)]
    except Exception as exc:  # noqa: BLE001 - any failure is reported per file
        return [{"file": path, "error": error_message(exc)}]


def collect_paths(args):
    paths = []
    for arg in args:
        if os.path.isdir(arg):
            found = []
            for root, dirs, files in os.walk(arg):
                dirs.sort()
                found.extend(os.path.join(root, f) for f in files if f.lower().endswith(".ics"))
            paths.extend(found)
        else:
            paths.append(arg)
    return sorted(paths)


def read_all(paths):
    files = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                files.append((path, f.read()))
        except OSError as exc:
            files.append((path, exc))
    return files


def json_line(obj):
    line = json.dumps(obj, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from undecodable bytes
        line = json.dumps(obj)
    return line + "\n"


def cmd_expand(args, window):
    out = sys.stdout
    out.reconfigure(encoding="utf-8")
    for path, data in read_all(collect_paths(args.paths)):
        for obj in expand_path(path, data, window, args):
            out.write(json_line(obj))
    out.flush()
    return 0


def cmd_bench(args, window):
    files = read_all(collect_paths(args.paths))
    occurrences = errors = 0
    began = time.perf_counter()
    for _ in range(args.repeat):
        count = errs = 0
        for path, data in files:
            for obj in expand_path(path, data, window, args):
                if "error" in obj:
                    errs += 1
                else:
                    count += 1
        occurrences, errors = count, errs
    elapsed = time.perf_counter() - began
    if errors:
        print(f"calendar-reference: {errors} file(s) failed", file=sys.stderr)
    print(json.dumps({"seconds_per_run": elapsed / args.repeat, "occurrences": occurrences}))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="calendar-reference",
        description="Reference VEVENT recurrence expansion (icalendar + recurring-ical-events).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("expand", "bench"):
        p = sub.add_parser(name)
        p.add_argument("--tz", required=True, type=parse_zone, help="owner time zone (IANA name)")
        p.add_argument("--from", dest="start", required=True, type=parse_date)
        p.add_argument("--to", dest="stop", required=True, type=parse_date)
        p.add_argument("--skip-bad-series", action="store_true",
                       help="skip broken series instead of failing the whole file")
        p.add_argument("--library-ends", action="store_true",
                       help="keep recurring-ical-events' occurrence ends (DTEND-DTSTART "
                            "or DURATION added as wall-clock time) instead of RFC 5545's")
        if name == "bench":
            p.add_argument("--repeat", type=int, default=1)
        p.add_argument("paths", nargs="+", metavar="PATH")
    args = parser.parse_args(argv)
    if args.stop <= args.start:
        parser.error("--to must be after --from")
    if getattr(args, "repeat", 1) < 1:
        parser.error("--repeat must be at least 1")
    window = Window(args.tz, args.start, args.stop)
    if args.command == "expand":
        return cmd_expand(args, window)
    return cmd_bench(args, window)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(1)
