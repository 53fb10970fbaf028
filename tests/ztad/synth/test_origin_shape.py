"""A data set shaped like the origin's: a fixed number of rows, 40 % anomalous across the
labels, rows drawn independently and spread over the whole period."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.synth import GeneratorSettingsError
from ztad.synth.origin_shape import ORIGIN_COLUMNS, generate_origin_shaped, sample_origin_rows

START = date(2026, 3, 2)


@pytest.fixture(scope="module")
def origin_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("origin")
    summary = generate_origin_shaped(out, start=START, days=12, users=40, seed=3, rows=3000)
    frame = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(out.glob("date=*/*.csv"))])
    return summary, frame


def test_rows_share_and_columns_are_the_origins(origin_set):
    summary, frame = origin_set
    assert len(frame) == summary.events == 3000
    assert (frame["event_label"] != "normal").mean() == pytest.approx(0.40)
    assert list(frame.columns) == list(ORIGIN_COLUMNS)
    assert "department" not in frame.columns and "attack_id" not in frame.columns


def test_anomalies_are_mixed_over_the_whole_period_and_many_labels(origin_set):
    _, frame = origin_set
    anomalous = frame[frame["event_label"] != "normal"]
    days = pd.to_datetime(anomalous["timestamp"]).dt.date
    assert days.min() == START and days.nunique() == 12
    assert anomalous["event_label"].nunique() >= 12
    # No label fills the anomalous share: password guessing does not crowd out the rest.
    assert anomalous["event_label"].value_counts(normalize=True).max() < 0.3


def test_sampling_evens_out_labels_and_refuses_too_few_events():
    events = pd.DataFrame({"event_label": ["normal"] * 50 + ["a"] * 40 + ["b"] * 10})
    rng = np.random.default_rng(0)
    picked = sample_origin_rows(events, 40, 0.25, rng)
    assert len(picked) == 40 and len(np.unique(picked)) == 40 and (np.diff(picked) > 0).all()
    labels = events["event_label"].to_numpy()[picked]
    assert (labels != "normal").sum() == 10 and (labels == "b").sum() >= 3
    with pytest.raises(GeneratorSettingsError, match="give more --users or --days"):
        sample_origin_rows(events, 100, 0.6, rng)
