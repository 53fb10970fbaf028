"""The canonical event schema."""

import pandas as pd
import pytest

from ztad import schema


def test_empty_events_has_every_canonical_column_and_dtype():
    frame = schema.empty_events()
    assert tuple(frame.columns) == schema.CANONICAL_COLUMNS
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["login_success"].dtype == bool


def test_conform_adds_optional_columns_and_orders_them():
    frame = pd.DataFrame(
        {
            "user_id": ["alice"],
            "timestamp": pd.to_datetime(["2026-03-02T08:00:00Z"]),
            "event_id": ["e1"],
            "ip_address": ["10.0.0.1"],
            "login_success": [True],
            "resource": ["email"],
            "bytes_transferred": [10],
            "source_row": [2],
        }
    )
    out = schema.conform(frame)
    assert tuple(out.columns) == schema.CANONICAL_COLUMNS
    assert out["location"].isna().all() and out["latitude"].isna().all()


def test_a_canonical_frame_in_another_order_is_conformed_alike():
    # Every canonical column of its dtype, shuffled and indexed from 5: only reordered.
    frame = schema.conform(
        pd.DataFrame(
            {
                "user_id": ["alice", "bob"],
                "timestamp": pd.to_datetime(["2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z"]),
                "ip_address": ["10.0.0.1", None],
                "login_success": [True, False],
                "bytes_transferred": [10, 0],
                "asn": [64500, None],
                "source_row": [2, 3],
            }
        )
    )
    shuffled = frame[list(reversed(frame.columns))].set_axis([5, 6])
    by_column = schema.conform(shuffled.assign(extra=1))  # another column: rebuilt column by column
    out = schema.conform(shuffled)
    pd.testing.assert_frame_equal(out, frame)
    pd.testing.assert_frame_equal(out, by_column)
    assert list(out.index) == [0, 1] and out.columns.dtype == frame.columns.dtype


def test_conform_refuses_a_missing_required_column():
    frame = schema.empty_events().drop(columns=["login_success"])
    with pytest.raises(KeyError, match="login_success"):
        schema.conform(frame)


def test_only_normal_is_trusted():
    labels = pd.Series(["normal", " Normal ", "password_spray", "benign", None])
    assert schema.is_anomaly_label(labels).tolist() == [False, False, True, True, pd.NA]


def test_combined_labels_split_into_parts():
    assert schema.label_categories("impossible_travel+large_data_transfer") == [
        "impossible_travel",
        "large_data_transfer",
    ]
    assert schema.label_categories("normal") == ["normal"]


def test_networks_are_nullable_canonical_columns():
    assert schema.CANONICAL_DTYPES["asn"] == "Int64" and schema.CANONICAL_DTYPES["as_org"] == "string"
    assert set(schema.NETWORK_COLUMNS) <= set(schema.OPTIONAL_INPUT_COLUMNS)
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2026-03-02T08:00:00Z"]),
            "user_id": ["alice"], "event_id": ["e1"], "ip_address": ["81.2.69.160"],
            "login_success": [True], "bytes_transferred": [0], "source_row": [2],
        }
    )
    out = schema.conform(frame)
    assert str(out["asn"].dtype) == "Int64" and out["asn"].isna().all() and out["as_org"].isna().all()
    kept = schema.conform(out.assign(asn=pd.Series([15169.0]), as_org="Google LLC"))
    assert kept["asn"].tolist() == [15169] and kept["as_org"].tolist() == ["Google LLC"]


def test_networks_describe_the_address_not_the_event():
    from ztad.ingest.ids import CONTENT_COLUMNS

    assert not set(schema.NETWORK_COLUMNS) & set(CONTENT_COLUMNS)
