"""Fixtures: small labelled event sets and scored frames for the evaluation tests."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.ztad.evaluation.synthetic import make_events, make_scored


@pytest.fixture(scope="module")
def labelled_events() -> pd.DataFrame:
    return make_events()


@pytest.fixture(scope="module")
def scored_frame(labelled_events) -> pd.DataFrame:
    return make_scored(labelled_events)
