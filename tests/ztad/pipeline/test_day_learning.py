"""Learning a day a part of its users at a time gives what learning it whole gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.ztad.behaviour.features.sequences import DAY, frame, login
from ztad.pipeline.day_learning import learn_in_parts, part_count, user_parts
from ztad.pipeline.steps.write_findings import baseline_columns

USERS = [f"u{i:02d}" for i in range(12)]


def _events_file(tmp_path) -> tuple:
    """A day of logins of a dozen users from a few places and devices, in row groups of 7."""
    rng = np.random.default_rng(3)
    places = ["Madrid, Spain", "Lagos, Nigeria", "Paris, France", None]
    rows = [
        login(USERS[u], f"{DAY} {h:02d}:{m:02d}", places[rng.integers(4)], ip=f"192.0.2.{rng.integers(1, 9)}",
              device=f"dev{rng.integers(3)}", success=bool(rng.random() < 0.9),
              resource=["mail", "erp", None][rng.integers(3)], nbytes=int(rng.integers(1, 10**6)))
        for h, m, u in zip(rng.integers(0, 24, 150), rng.integers(0, 60, 150), rng.integers(0, len(USERS), 150))
    ]
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pandas(frame(rows), preserve_index=False), path, row_group_size=7)
    return path, rng.random(150) < 0.2


def _judge(flagged: np.ndarray):
    """Unflagged rows train and teach the baseline; flagged ones are other alerts, and those
    of users whose day holds a failed login hour-only alerts too (a choice that reads a
    user's whole day, as :func:`ztad.feedback.hour_only_alerts` does)."""
    def judge(events: pd.DataFrame, rows):
        mine = flagged[rows]
        users = events["user_id"].to_numpy(dtype=object)
        failed = ~events["login_success"].to_numpy(bool)
        of_failing_users = pd.Series(users).isin(users[failed]).to_numpy(bool)
        return ~mine, (~mine, mine & of_failing_users, mine)
    return judge


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(list(table.columns), ignore_index=True, na_position="first")


def test_a_day_learnt_in_parts_gives_the_aggregate_and_training_rows_of_the_day_learnt_whole(tmp_path):
    path, flagged = _events_file(tmp_path)
    columns = pq.ParquetFile(path).schema_arrow.names
    whole_train, whole = learn_in_parts(path, columns, baseline_columns, _judge(flagged))
    parts_train, parts = learn_in_parts(path, columns, baseline_columns, _judge(flagged), part_rows=40)
    assert part_count(150, 40) == 4
    assert parts_train.tolist() == whole_train.tolist() == (~flagged).tolist()
    assert set(parts.tables) == set(whole.tables)
    for name, table in whole.tables.items():
        pd.testing.assert_frame_equal(_sorted(parts.tables[name]), _sorted(table), check_exact=True)
    assert parts.events == whole.events == int((~flagged).sum())


def test_each_user_falls_in_one_part_and_every_row_in_a_part(tmp_path):
    path, _ = _events_file(tmp_path)
    users = pq.read_table(path, columns=["user_id"]).column(0).to_numpy(zero_copy_only=False)
    parts = list(user_parts(path, 4))
    assert np.sort(np.concatenate(parts)).tolist() == list(range(len(users)))
    owners = [set(users[rows]) for rows in parts]
    assert sum(len(o) for o in owners) == len(set(users))
    assert all(np.all(np.diff(rows) > 0) for rows in parts)
