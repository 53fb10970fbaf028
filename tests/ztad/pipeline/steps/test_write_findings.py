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
