from datetime import date, datetime, timedelta, timezone
from typing import ClassVar

import pytest
from airflow.sdk.exceptions import AirflowFailException

import ztad.ingest
from ztad_airflow.sensors import ZtadPartitionSensor

DAY = date(2026, 3, 2)


def context_for(day=DAY):
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return {"data_interval_start": start, "data_interval_end": start + timedelta(days=1)}


@pytest.fixture
def listed(monkeypatch):
    """Record the sources the sensor lists, and answer with the days in ``listed.days``."""
    class Listing:
        days: list[date] = []
        roots: list[str] = []
        index_dirs: ClassVar[list] = []

    def available_days(source, index_dir=None):
        Listing.roots.append(source.root)
        Listing.index_dirs.append(index_dir)
        return list(Listing.days)

    monkeypatch.setattr(ztad.ingest, "available_days", available_days)
    monkeypatch.setenv("AIRFLOW_VAR_ZTAD_SOURCE", '{"root": "/data/auth"}')
    return Listing


@pytest.mark.parametrize("choice", ["fail", "skip", "", None])
def test_without_wait_the_sensor_passes_at_once_without_listing(choice, listed):
    assert ZtadPartitionSensor(task_id="wait", on_missing_partition=choice).poke(context_for()) is True
    assert listed.roots == []


def test_waiting_passes_once_the_day_is_listed(listed):
    listed.days = [DAY - timedelta(days=1), DAY]
    assert ZtadPartitionSensor(task_id="wait", on_missing_partition="wait").poke(context_for()) is True
    assert listed.roots == ["/data/auth"]
    assert listed.index_dirs[0].parts[-2:] == ("state", "flat-index")  # a flat file's day list


def test_waiting_keeps_waiting_while_the_day_is_absent(listed):
    listed.days = [DAY - timedelta(days=1), DAY + timedelta(days=1)]
    assert ZtadPartitionSensor(task_id="wait", on_missing_partition="WAIT").poke(context_for()) is False


def test_an_unknown_choice_fails(listed):
    with pytest.raises(AirflowFailException, match="on_missing_partition must be one of"):
        ZtadPartitionSensor(task_id="wait", on_missing_partition="retry").poke(context_for())


def test_the_sensor_reschedules_between_pokes_and_gives_up_loudly():
    sensor = ZtadPartitionSensor(task_id="wait")
    assert sensor.mode == "reschedule"
    assert sensor.timeout == timedelta(hours=6).total_seconds()
    assert sensor.soft_fail is False


def test_waiting_on_a_real_partition_folder(tmp_path, monkeypatch):
    partition = tmp_path / "logs" / f"date={DAY}"
    partition.mkdir(parents=True)
    (partition / "auth.csv").write_text(
        "timestamp,user_id,device_id,ip_address,location,login_success,access_time,"
        "resource_accessed,bytes_transferred,event_label\n"
        f"{DAY}T09:00:00Z,u1,d1,10.0.0.1,\"Madrid, Spain\",1,09:00:00,crm,100,normal\n"
    )
    monkeypatch.setenv("AIRFLOW_VAR_ZTAD_SOURCE", f'{{"root": "{tmp_path / "logs"}"}}')
    sensor = ZtadPartitionSensor(task_id="wait", on_missing_partition="wait")
    assert sensor.poke(context_for(DAY)) is True
    assert sensor.poke(context_for(DAY + timedelta(days=1))) is False
