"""Strategies for the document's own string formats, so that schemathesis generates values the
server accepts: `cron` (a cron expression) and `iana-timezone` (an IANA zone name); and list
cursors made for the request's sort; and a bound on each job stream."""
import base64
import json
import re

import schemathesis
from hypothesis import strategies as st

CRONS = [
    "* * * * *", "*/15 * * * *", "0 9 * * MON-FRI", "30 2 * * *", "0 0 29 2 *", "0 0 13 * FRI",
    "10-50/20 0-23/6 1,15 JAN-JUN *", "0 12 1 jan,Jul *", "*/20 * * * * *", "15 0 9 * * mon",
    "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "0 0 * * 7",
]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe", "Pacific/Apia"]

schemathesis.openapi.format("cron", st.sampled_from(CRONS))
schemathesis.openapi.format("iana-timezone", st.sampled_from(ZONES))

CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,4096}$")
TIME_FIELDS = {"created_at", "updated_at", "scheduled_at"}


@schemathesis.hook
def map_query(context, query):
    """A schema-valid `after` becomes a cursor the API could have made for the request's sort
    (`meta.next_after` is opaque: a random string is refused with a 400). Values that break the
    schema are left as they are, for the negative tests."""
    operation = getattr(context, "operation", None)
    if operation is not None and operation.path.endswith("/stream"):
        # A stream lasts until its job ends, and the jobs the run creates may wait for days:
        # bound each stream (a schema-valid `timeout` the test did not set is added).
        if isinstance(query, dict) and "timeout" not in query:
            query["timeout"] = 1
        elif query is None:
            query = {"timeout": 1}
        return query
    if not isinstance(query, dict) or not isinstance(query.get("after"), str) or not CURSOR.match(query["after"]):
        return query
    sort = query.get("sort") if isinstance(query.get("sort"), str) else None
    keys = []
    for part in (sort or "created_at:desc").split(","):
        field, _, direction = part.partition(":")
        if field not in [key[0] for key in keys]:
            keys.append((field, direction or "asc"))
    signature = ",".join(f"{field}:{direction}" for field, direction in keys)
    values = [0 if field in TIME_FIELDS else "" for field, _ in keys]
    raw = json.dumps([signature, values, "job_0"], separators=(",", ":")).encode()
    query["after"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return query
