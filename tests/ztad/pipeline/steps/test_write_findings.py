"""The write step's learning: which alerts still tell the baseline when a user works."""

from __future__ import annotations

import pandas as pd

from ztad.behaviour.rules import RULES
from ztad.pipeline.steps.write_findings import rows_raised_for_hour_alone


def _scored(model_flag: list[bool], **rules: list[bool]) -> pd.DataFrame:
    n = len(model_flag)
    columns = {f"rule_{code}": rules.get(code, [False] * n) for code in RULES}
    return pd.DataFrame({"model_flag": model_flag, "rule_hit": [False] * n, **columns})


def test_only_the_off_hours_rule_alone_raises_a_login_for_its_hour():
    scored = _scored([False, True, False, False, False],
                     off_hours=[True, True, True, False, False],
                     new_device_new_place=[False, False, True, False, True])
    assert rows_raised_for_hour_alone(scored).tolist() == [True, False, False, False, False]


def test_a_day_scored_without_the_off_hours_rule_raises_nothing_for_its_hour():
    scored = pd.DataFrame({"model_flag": [True, False], "rule_hit": [False, False]})
    assert rows_raised_for_hour_alone(scored).tolist() == [False, False]


def test_the_event_fields_read_are_those_findings_quote_and_the_baseline_learns():
    from ztad.behaviour.baselines import REQUIRED_COLUMNS
    from ztad.pipeline.steps.write_findings import event_columns
    from ztad.schema import CANONICAL_COLUMNS

    read = event_columns(list(CANONICAL_COLUMNS))
    assert read == [c for c in CANONICAL_COLUMNS if c in read]  # in the file's order
    assert {"event_id", "event_label", "asn", *REQUIRED_COLUMNS} <= set(read)
    assert not {"source_row", "scenario", "attack_id", "as_org", "auth_method"} & set(read)


def test_findings_are_built_from_the_event_fields_the_write_step_reads():
    from datetime import date

    from ztad.findings.build import build_findings
    from ztad.pipeline.steps.write_findings import event_columns
    from ztad.schema import CANONICAL_COLUMNS

    events = pd.DataFrame({c: ["x"] for c in event_columns(list(CANONICAL_COLUMNS))})
    scored = pd.DataFrame({"model_flag": [True], "score": [0.9], "threshold": [0.5], "ensemble_score": [0.9]})
    findings = build_findings(day=date(2026, 3, 16), events=events, scored=scored,
                              reasons=pd.Series([[{"code": "deviation", "text": "t"}]]),
                              model_version="m", run_id="r")
    assert findings["finding_id"].tolist() == ["2026-03-16:x"]
