"""Parses an iCalendar feed from stdin with the `icalendar` library and prints its events as JSON.

Used by the calendar-feed test as an independent, real-world parser of what watchbill serves.
"""
import json
import sys

import icalendar

calendar = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
events = []
for component in calendar.walk("VEVENT"):
    events.append(
        {
            "uid": str(component["UID"]),
            "summary": str(component["SUMMARY"]),
            "start": component.decoded("DTSTART").isoformat(),
            "end": component.decoded("DTEND").isoformat(),
        }
    )
if calendar.get("VERSION") != "2.0" or not calendar.get("PRODID"):
    sys.exit("the calendar lacks VERSION:2.0 or PRODID")
print(json.dumps({"events": events}))
