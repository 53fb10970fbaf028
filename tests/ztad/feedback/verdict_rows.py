"""Analysts' verdicts as the feedback modules read them from the findings database."""

from __future__ import annotations

from datetime import date

import pandas as pd

DAY = date(2026, 3, 16)
TRIP = "Reykjavik, Iceland"


def verdict_row(finding, verdict, codes, user="alice", day=DAY, **values):
    row = {
        "day": day,
        "finding_id": finding,
        "event_id": finding.split(":")[-1],
        "user_id": user,
        "location": TRIP,
        "device_id": "LT-TRIP",
        "resource": "payroll",
        "ip_address": "198.51.100.77",
        "reasons": [{"code": code, "text": f"{code} 1"} for code in codes],
        "verdict": verdict,
    }
    row.update(values)
    return row


def verdict_frame(*rows):
    return pd.DataFrame(list(rows))
