"""The Python reference for `openzero bench training`, timed in-process.

  python bench-training-python.py fit --repeat N FILE.fit...
  python bench-training-python.py metrics --repeat N RUNS.json
  python bench-training-python.py store --repeat N --db DB --tz ZONE --today YYYY-MM-DD
      --goal-date YYYY-MM-DD --goal-m METRES

Run with a Python that has fitdecode (scripts/bench sets up a venv with the
pinned wheel, scripts/lib/training-venv.txt); `metrics` and `store` need
only the standard library. Each mode prints one JSON object: the median
seconds of --repeat runs (`seconds`, and `parse_seconds` for fit) and the
figures it computed, which `openzero bench training` compares with its own
so both sides are seen doing the same work.

fit: reads the files' bytes once, then per run decodes every data message
of every file into a dict (fitdecode, CRC checked) kept in a list, and
from the `record` messages computes distance (the device's last distance),
elapsed and moving time (gaps over 10 s are pauses, as OpenZero counts
them) and the average heart rate.

metrics: the runs `[[YYYY-MM-DD, metres, moving seconds, load], ...]` of
RUNS.json (read before timing), with its `today` and `goal`: the daily
chart of fitness, fatigue and form (CTL/ATL/TSB, 42- and 7-day EWMA) from
the first run to today, the acute:chronic ratio, weekly volume for every
week, and the goal race's status (Riegel's prediction from the best run of
3 km or more in the last 42 days; form on race day after a two-week
taper), as openzero_training::metrics defines them.

store: what `openzero training metrics` then `openzero training goal` do:
twice, read every activity from OpenZero's SQLite database (the same
columns, newest first), take its day in ZONE, keep the last 180 days, and
compute the chart, the acute:chronic ratio, four weeks of volume and the
goal's status over them.
"""

import argparse
import datetime as dt
import io
import json
import sqlite3
import statistics
import sys
import time

PAUSE_S = 10.0


def timed(repeat, work):
    times, out = [], None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


# ------------------------------------------------------------------- fit ---

def decode(data):
    import fitdecode

    messages = []
    with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE) as fit:
        for frame in fit:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA:
                m = {f.name: f.value for f in frame.fields}
                m["_name"] = frame.name
                messages.append(m)
    return messages


def figures(messages):
    records = [m for m in messages if m["_name"] == "record" and m.get("timestamp") is not None]
    if not records:
        return {"records": 0, "distance_m": 0.0, "elapsed_s": 0.0, "moving_s": 0.0, "avg_hr": None}
    times = [r["timestamp"] for r in records]
    elapsed = (times[-1] - times[0]).total_seconds()
    paused = 0.0
    for a, b in zip(times, times[1:]):
        gap = (b - a).total_seconds()
        if gap > PAUSE_S:
            paused += gap
    distance = next((r["distance"] for r in reversed(records) if r.get("distance") is not None), 0.0)
    hr = [r["heart_rate"] for r in records if r.get("heart_rate") is not None]
    return {
        "records": len(records),
        "distance_m": float(distance),
        "elapsed_s": elapsed,
        "moving_s": max(0.0, elapsed - paused),
        "avg_hr": sum(hr) / len(hr) if hr else None,
    }


def fit_mode(args):
    import fitdecode

    blobs = []
    for path in args.files:
        with open(path, "rb") as fh:
            blobs.append(fh.read())
    parse_s, _ = timed(args.repeat, lambda: [decode(b) for b in blobs])
    seconds, out = timed(args.repeat, lambda: [figures(decode(b)) for b in blobs])
    return {
        "reference": "fitdecode %s, Python %s" % (fitdecode.__version__, sys.version.split()[0]),
        "parse_seconds": parse_s,
        "seconds": seconds,
        "files": out,
    }


# --------------------------------------------------------------- metrics ---

DAY = dt.timedelta(days=1)
TAPER_DAYS = 14


def form(loads, start, end):
    """Daily (date, load, ctl, atl, tsb) from start to end; loads: {date: load}."""
    out, ctl, atl, d = [], 0.0, 0.0, start
    while d <= end:
        load = loads.get(d, 0.0)
        tsb = ctl - atl
        ctl += (load - ctl) / 42.0
        atl += (load - atl) / 7.0
        out.append((d, load, ctl, atl, tsb))
        d += DAY
    return out


def add_loads(pairs):
    loads = {}
    for d, load in pairs:
        loads[d] = loads.get(d, 0.0) + load
    return loads


def weekly(runs, today, weeks):
    this_monday = today - dt.timedelta(days=today.weekday())
    first = this_monday - dt.timedelta(weeks=weeks - 1)
    buckets = {}
    for d, m, s, load in runs:
        if first <= d <= this_monday + dt.timedelta(days=6):
            monday = d - dt.timedelta(days=d.weekday())
            w = buckets.setdefault(monday, [0, 0.0, 0.0, 0.0])
            w[0] += 1
            w[1] += m
            w[2] += s
            w[3] += load
    return [
        (first + dt.timedelta(weeks=i), *buckets.get(first + dt.timedelta(weeks=i), [0, 0.0, 0.0, 0.0]))
        for i in range(weeks)
    ]


def goal_status(goal, today, history_from, pairs, runs):
    best = None
    for d, m, s in runs:
        if m >= 3000.0 and s > 0.0 and d <= today and (today - d).days <= 42:
            p = s * (goal["distance_m"] / m) ** 1.06
            if best is None or p < best[0]:
                best = (p, d)
    start = min(history_from, today)
    chart = form(add_loads(pairs), start, today)
    recent = sum(x[1] for x in chart[-28:]) / 28.0
    planned = list(pairs)
    d = today
    while d < goal["date"]:
        d += DAY
        before = (goal["date"] - d).days
        share = 1.0 if before > TAPER_DAYS else 0.6 if before > TAPER_DAYS // 2 else 0.4
        if d < goal["date"]:
            planned.append((d, recent * share))
    projected = form(add_loads(planned), start, max(goal["date"], today))
    return {
        "days_left": (goal["date"] - today).days,
        "predicted_s": best[0] if best else None,
        "race_day_tsb": projected[-1][4] if projected else 0.0,
    }


def chart_and_weeks(runs, today, start, weeks):
    pairs = [(d, load) for d, _, _, load in runs]
    chart = form(add_loads(pairs), start, today)
    _, _, ctl, atl, tsb = chart[-1]
    volume = weekly(runs, today, weeks)
    return {
        "ctl": ctl,
        "atl": atl,
        "tsb": tsb,
        "acute_chronic": atl / ctl if ctl > 1.0 else None,
        "weeks": len(volume),
        "km": sum(w[2] for w in volume) / 1000.0,
        "chart_days": len(chart),
    }


def status_of(runs, today, start, goal):
    pairs = [(d, load) for d, _, _, load in runs]
    return goal_status(goal, today, start, pairs, [(d, m, s) for d, m, s, _ in runs])


def day(s):
    return dt.date.fromisoformat(s)


def metrics_mode(args):
    with open(args.runs) as fh:
        data = json.load(fh)
    today = day(data["today"])
    goal = {"date": day(data["goal"]["date"]), "distance_m": data["goal"]["distance_m"]}
    runs = [(day(d), m, s, load) for d, m, s, load in data["runs"]]

    def work():
        start = min((r[0] for r in runs), default=today)
        weeks = (today - start).days // 7 + 1
        return {**chart_and_weeks(runs, today, start, weeks), **status_of(runs, today, start, goal)}

    seconds, out = timed(args.repeat, work)
    return {"seconds": seconds, **out}


COLUMNS = (
    "id, source, external_id, sport, name, start_at, elapsed_s, moving_s, "
    "distance_m, avg_hr, trimp, efficiency, imported_at"
)


def store_mode(args):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        tz = ZoneInfo(args.tz)
    except ZoneInfoNotFoundError:
        # A machine without the zone database still knows UTC.
        if args.tz not in ("UTC", "Etc/UTC"):
            raise
        tz = dt.timezone.utc
    today = day(args.today)
    goal = {"date": day(args.goal_date), "distance_m": args.goal_m}
    db = sqlite3.connect(args.db)

    def history(since):
        rows = db.execute(
            "SELECT %s FROM activities ORDER BY start_at DESC, id DESC LIMIT 100000" % COLUMNS
        ).fetchall()
        out = []
        for r in rows:
            d = dt.datetime.fromisoformat(r[5]).astimezone(tz).date()
            if d >= since:
                out.append((d, r[8], r[7], r[10] or 0.0))
        return out

    def work():
        since = today - dt.timedelta(days=180)
        # `training metrics`, then `training goal`: each reads the history.
        m = chart_and_weeks(history(since), today, since, 4)
        return {**m, **status_of(history(since), today, since, goal)}

    seconds, out = timed(args.repeat, work)
    db.close()
    return {"seconds": seconds, **out}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("fit")
    f.add_argument("--repeat", type=int, default=5)
    f.add_argument("files", nargs="+")
    m = sub.add_parser("metrics")
    m.add_argument("--repeat", type=int, default=5)
    m.add_argument("runs")
    s = sub.add_parser("store")
    s.add_argument("--repeat", type=int, default=5)
    s.add_argument("--db", required=True)
    s.add_argument("--tz", required=True)
    s.add_argument("--today", required=True)
    s.add_argument("--goal-date", required=True)
    s.add_argument("--goal-m", type=float, required=True)
    args = p.parse_args()
    out = {"fit": fit_mode, "metrics": metrics_mode, "store": store_mode}[args.mode](args)
    json.dump(out, sys.stdout, default=str)
    print()


if __name__ == "__main__":
    main()
