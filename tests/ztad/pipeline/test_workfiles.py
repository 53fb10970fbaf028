"""Work files between a night's steps: a file read column by column or in batches is the file read
whole, a file written in parts is the parts' rows (each part written while the next is made or
not), and a file put in part order keeps its rows."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ztad.pipeline.workfiles import (
    DICTIONARY_PAGE_BYTES,
    put_in_part_order,
    read_parquet,
    read_parquet_batches,
    read_parquet_by_column,
    write_parquet,
    write_parquet_parts,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": ["a", "b", None],
        "timestamp": pd.to_datetime(["2026-03-16 01:00", "2026-03-16 02:00", None], utc=True),
        "login_success": [True, False, True],
        "asn": [64500, 64501, 64502],
        "score": [0.1, float("nan"), 0.3],
    })


def test_a_file_read_by_column_holds_what_it_holds_read_whole(tmp_path):
    path = tmp_path / "day.parquet"
    write_parquet(_frame(), path)
    pd.testing.assert_frame_equal(read_parquet_by_column(path), read_parquet(path), check_exact=True)
    pd.testing.assert_frame_equal(read_parquet_by_column(path, ["score", "event_id"]),
                                  read_parquet(path, ["score", "event_id"]), check_exact=True)


def test_a_missing_work_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.parquet"):
        read_parquet_by_column(tmp_path / "missing.parquet")


def _part(values: list[str | None], first: int) -> pd.DataFrame:
    """A part of a day's features: numbers and a categorical column of the part's own values."""
    return pd.DataFrame({
        "x": np.arange(first, first + len(values), dtype="float64"),
        "place": pd.Categorical(values, categories=pd.Index(sorted({v for v in values if v}), dtype="string")),
        "flag": np.arange(len(values)) % 2 == 0,
    })


def test_parts_with_their_own_categories_are_written_as_one_file(tmp_path):
    path = tmp_path / "features.parquet"
    parts = [_part(["Oslo", "Lima", None], 0), _part([None, None], 3), _part(["Pune"] * 300 + ["Oslo"], 5)]
    assert write_parquet_parts(path, iter(parts)) == 306
    written = read_parquet(path)
    assert isinstance(written["place"].dtype, pd.CategoricalDtype)
    whole = pd.concat([p.astype({"place": object}) for p in parts], ignore_index=True)
    assert written["place"].astype(object).fillna("<NA>").tolist() == whole["place"].fillna("<NA>").tolist()
    assert written["x"].tolist() == whole["x"].tolist() and written["flag"].tolist() == whole["flag"].tolist()
    assert pq.ParquetFile(path).metadata.num_row_groups == 3


def test_a_first_part_without_any_category_takes_the_text_of_later_parts(tmp_path):
    """A text feature missing on every row of the first part (a categorical of no category)
    does not stop later parts' text from being written under it."""
    path = tmp_path / "features.parquet"
    empty = _part([None, None], 0).astype({"place": pd.CategoricalDtype(pd.Index([], dtype=object))})
    parts = [empty, _part(["Lima", None, "Oslo"], 2)]
    assert write_parquet_parts(path, iter(parts)) == 5
    written = read_parquet(path)
    assert isinstance(written["place"].dtype, pd.CategoricalDtype)
    assert written["place"].astype(object).fillna("<NA>").tolist() == ["<NA>", "<NA>", "Lima", "<NA>", "Oslo"]


def test_many_distinct_values_are_written_plain_and_read_back_the_same(tmp_path):
    path = tmp_path / "scored.parquet"
    many = np.random.default_rng(0).normal(size=(2, 20_000))  # far more than a small dictionary holds
    few = np.repeat(np.arange(4.0), 5_000)
    categories = pd.Categorical([f"place {i}" for i in range(20_000)])
    parts = [pd.DataFrame({"score": many[i], "count": few, "place": categories}) for i in range(2)]
    assert write_parquet_parts(path, iter(parts)) == 40_000
    written = read_parquet(path)
    assert written["score"].to_numpy().tobytes() == many.ravel().tobytes()
    assert written["count"].tolist() == [*few, *few]
    assert written["place"].astype(str).tolist() == [*categories.astype(str)] * 2
    chunks = pq.ParquetFile(path).metadata.row_group(0)
    chunk = {chunks.column(i).path_in_schema: chunks.column(i) for i in range(chunks.num_columns)}
    # The scores' dictionary stopped at the limit (the default 1 MiB would hold all 20,000 values).
    assert chunk["score"].data_page_offset - chunk["score"].dictionary_page_offset < DICTIONARY_PAGE_BYTES * 1.1
    assert chunk["count"].has_dictionary_page


def test_a_file_written_with_no_part_is_an_error_and_leaves_no_file(tmp_path):
    path = tmp_path / "features.parquet"
    with pytest.raises(ValueError, match="no part"):
        write_parquet_parts(path, iter([]))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("batch_rows", [1, 7, 64, 1000])
def test_a_file_read_in_batches_is_the_file_read_whole(tmp_path, batch_rows):
    path = tmp_path / "features.parquet"
    parts = [_part(["Oslo"] * 40, 0), _part(["Lima"] * 5 + [None], 40), _part(["Pune"] * 53, 46)]
    write_parquet_parts(path, parts)
    batches = list(read_parquet_batches(path, ["x", "place"], batch_rows))
    assert [first for first, _ in batches] == list(range(0, 99, batch_rows))
    assert all(len(batch) == batch_rows for _, batch in batches[:-1])
    together = pd.concat([batch for _, batch in batches], ignore_index=True)
    expected = read_parquet(path, ["x", "place"])
    assert list(together.columns) == ["x", "place"]
    assert together["x"].tolist() == expected["x"].tolist()
    assert together["place"].astype(object).tolist() == expected["place"].astype(object).tolist()


def test_a_file_without_rows_is_read_as_one_empty_batch(tmp_path):
    path = tmp_path / "features.parquet"
    write_parquet(_part([], 0), path)
    [(first, batch)] = list(read_parquet_batches(path, ["flag", "x"], 10))
    assert first == 0 and batch.empty and list(batch.columns) == ["flag", "x"]


def test_a_file_put_in_part_order_keeps_its_rows_in_that_order(tmp_path):
    path = tmp_path / "events.parquet"
    write_parquet(_frame(), path)
    order, bounds = np.array([1, 0, 2]), np.array([0, 1, 3])
    put_in_part_order(path, order, bounds)
    pd.testing.assert_frame_equal(read_parquet(path), _frame().iloc[order].reset_index(drop=True), check_exact=True)
    assert pq.ParquetFile(path).metadata.num_row_groups == 2


def test_parts_written_while_the_next_is_made_give_the_same_file(tmp_path):
    parts = [_part(["Oslo", "Lima", None], 0), _part([None, None], 3), _part(["Pune"] * 300 + ["Oslo"], 5)]
    writing = []

    def made():
        for part in parts:
            yield part
            writing.append(any(t.name.startswith("parquet-part") for t in threading.enumerate()))

    in_turn, overlapped = tmp_path / "in_turn.parquet", tmp_path / "overlapped.parquet"
    assert write_parquet_parts(in_turn, iter(parts)) == write_parquet_parts(overlapped, made(), overlap=True)
    assert all(writing)  # the next part was made beside the thread writing the last one
    pd.testing.assert_frame_equal(read_parquet(overlapped), read_parquet(in_turn), check_exact=True)
    assert pq.ParquetFile(overlapped).metadata.num_row_groups == 3


def test_a_part_that_cannot_be_written_is_an_error_and_leaves_no_file(tmp_path):
    """A part the first part's schema cannot hold fails its write, on the writing thread or
    not, and the failure is raised at the latest when the file is finished."""
    path = tmp_path / "features.parquet"
    parts = [_part(["Oslo"], 0), _part(["Lima"], 1).assign(x="not a number")]
    for overlap in (False, True):
        with pytest.raises(Exception, match="not a number|convert"):
            write_parquet_parts(path, iter(parts), overlap=overlap)
        assert not list(tmp_path.iterdir())


def test_a_part_that_cannot_be_made_is_the_error_raised_while_another_is_written(tmp_path):
    path = tmp_path / "features.parquet"

    def parts():
        yield _part(["Oslo"] * 1000, 0)
        raise RuntimeError("the second part failed")

    with pytest.raises(RuntimeError, match="second part"):
        write_parquet_parts(path, parts(), overlap=True)
    assert not list(tmp_path.iterdir())
