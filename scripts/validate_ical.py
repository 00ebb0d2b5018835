#!/usr/bin/env python3
"""Validates iCalendar files (RFC 5545) with the Python `icalendar` package: each must parse,
be a VCALENDAR with VERSION 2.0 and PRODID, and every VEVENT must carry UID, DTSTAMP, DTSTART
(a date), DTEND after it, SUMMARY and DESCRIPTION; UIDs are unique. Lines use CRLF and are
folded at 75 octets.

    python3 scripts/validate_ical.py FILE.ics [FILE.ics ...] [--events N]

`--events N` also requires exactly N VEVENTs in every file.
"""
import datetime, sys

try:
    import icalendar
except ImportError:
    raise SystemExit("icalendar is missing: python3 -m pip install icalendar")


def check(path, expected_events):
    raw = open(path, "rb").read()
    problems = []
    lines = raw.split(b"\r\n")
    if lines[-1] != b"":
        problems.append("the file does not end with CRLF")
    for i, line in enumerate(lines[:-1], 1):
        if b"\n" in line or b"\r" in line:
            problems.append(f"line {i}: bare LF or CR (lines must end with CRLF)")
        if len(line) > 75:
            problems.append(f"line {i}: {len(line)} octets, more than 75 (not folded)")
    cal = icalendar.Calendar.from_ical(raw)
    if cal.name != "VCALENDAR":
        problems.append(f"top-level component is {cal.name}")
    if str(cal.get("VERSION")) != "2.0":
        problems.append("VERSION is not 2.0")
    if not cal.get("PRODID"):
        problems.append("no PRODID")
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    uids = set()
    for e in events:
        uid = str(e.get("UID", ""))
        for key in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION"):
            if e.get(key) is None:
                problems.append(f"event {uid or '?'}: no {key}")
        if uid in uids:
            problems.append(f"duplicate UID {uid}")
        uids.add(uid)
        start, end = e.get("DTSTART"), e.get("DTEND")
        if start is not None and end is not None:
            s, t = start.dt, end.dt
            if not isinstance(s, datetime.date) or isinstance(s, datetime.datetime):
                problems.append(f"event {uid}: DTSTART is not a date")
            elif t <= s:
                problems.append(f"event {uid}: DTEND is not after DTSTART")
    if expected_events is not None and len(events) != expected_events:
        problems.append(f"{len(events)} events, expected {expected_events}")
    return events, problems


def main():
    args = sys.argv[1:]
    expected = None
    if "--events" in args:
        i = args.index("--events")
        expected = int(args[i + 1])
        del args[i:i + 2]
    if not args:
        raise SystemExit(__doc__)
    failed = False
    for path in args:
        events, problems = check(path, expected)
        if problems:
            failed = True
            print(f"FAIL {path}:\n  " + "\n  ".join(problems[:20]))
        else:
            print(f"ok: {path}: valid iCalendar, {len(events)} events")
    # The validator must notice a broken calendar.
    bad = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20260302\r\nDTEND;VALUE=DATE:20260301\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    import tempfile, os
    with tempfile.NamedTemporaryFile(suffix=".ics", delete=False) as f:
        f.write(bad)
    try:
        if not check(f.name, None)[1]:
            raise SystemExit("FAIL: the validator did not notice a broken calendar")
    finally:
        os.unlink(f.name)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
