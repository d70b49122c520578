"""Strategies for the document's own string formats, so that schemathesis generates values the
server accepts: `cron` (a cron expression) and `iana-timezone` (an IANA zone name)."""
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
