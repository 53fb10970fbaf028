"""sshd adapter: auth.log lines -> sign-in events, with year/zone rules and quarantine."""

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from ztad.ingest import get_reader
from ztad.ingest.formats.sshd import YearUnknownError, read
from ztad.ingest.options import SourceOptionError

SAMPLE = Path(__file__).parents[3] / "data" / "sources" / "auth.log"


def load(path, **options):
    """All events and quarantine records of a file, plus the number of batches."""
    batches = list(read(str(path), options))
    events = pd.concat([b.frame for b in batches], ignore_index=True)
    quarantine = pd.concat([b.quarantine for b in batches], ignore_index=True)
    return events.sort_values("source_row", kind="stable", ignore_index=True), quarantine, len(batches)


def write(tmp_path, *lines, name="auth.log"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def utc(text):
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture(scope="module")
def sample():
    return load(SAMPLE, year="2025")


def test_publickey_login_maps_every_field(sample):
    events, _, _ = sample
    first = events.iloc[0]
    assert first["timestamp"] == utc("2025-12-31 23:58:01")
    assert first["user_id"] == "alice"
    assert first["ip_address"] == "198.51.100.23"
    assert first["resource_accessed"] == "bastion01"  # the host logged into
    assert first["device_id"] == "ED25519 SHA256:Q7m8XkTPtq1VwB3iE0aJ2Yb5nFhGdLc9sRuKzO4pW6o"
    assert bool(first["login_success"]) is True
    assert first["bytes_transferred"] == 0
    assert first["source_row"] == 1


def test_a_success_and_a_failure(sample):
    events, _, _ = sample
    bob = events[events["user_id"] == "bob"]
    assert bob["login_success"].tolist() == [True]
    root = events[events["user_id"] == "root"]
    assert not root["login_success"].any()
    assert set(root["ip_address"]) == {"203.0.113.77"}


def test_repeated_message_counts_each_attempt_with_its_own_id(sample):
    events, _, _ = sample
    repeated = events[events["source_row"] == 5]
    assert len(repeated) == 2
    assert repeated["event_id"].nunique() == 2


def test_notices_count_only_when_sshd_logged_no_attempt(sample):
    events, _, _ = sample
    # PAM's failure line (row 3) and "Invalid user oracle" (row 8) repeat the Failed lines of
    # the same sshd process; "Invalid user test" (row 12) is the only trace of its attempt.
    assert 3 not in set(events["source_row"]) and 8 not in set(events["source_row"])
    oracle = events[events["user_id"] == "oracle"]
    assert oracle["source_row"].tolist() == [11]
    test = events[events["user_id"] == "test"]
    assert test["source_row"].tolist() == [12] and not test["login_success"].any()


def test_failed_none_and_non_auth_lines_are_skipped_not_quarantined(sample):
    events, quarantine, _ = sample
    skipped_rows = {2, 6, 7, 9, 13, 14, 15, 20, 22}  # session, errors, probes, cron, sudo, blank
    assert not skipped_rows & set(events["source_row"])
    assert not skipped_rows & set(quarantine["source_row"])
    assert "admin" not in set(events["user_id"])


def test_malformed_lines_are_quarantined_with_line_numbers(sample):
    _, quarantine, _ = sample
    by_row = quarantine.set_index("source_row")
    assert list(by_row.index) == [16, 18, 19]
    assert by_row.loc[16, "field"] == "message"  # truncated "Failed password" line
    assert by_row.loc[18, "field"] == "timestamp"  # Feb 30
    assert by_row.loc[19, "field"] == "line"  # no syslog header
    assert json.loads(by_row.loc[18, "raw"]).startswith("Feb 30 00:07:00 bastion01")
    assert set(quarantine["source"]) == {str(SAMPLE)}


def test_sshd_session_program_and_rfc3339_timestamps(sample):
    events, _, _ = sample
    carol = events[events["user_id"] == "carol"].set_index("source_row")
    assert carol.loc[21, "resource_accessed"] == "db02"  # OpenSSH 9.8+ logs as sshd-session
    assert carol.loc[21, "ip_address"] == "2001:db8::15"
    assert carol.loc[23, "timestamp"] == utc("2025-12-31 23:10:00.123456")  # +01:00 offset honoured


def test_year_rolls_over_from_december_to_january(tmp_path):
    path = write(
        tmp_path,
        "Dec 31 23:59:58 h sshd[1]: Failed password for a from 192.0.2.1 port 1 ssh2",
        "Jan  1 00:00:02 h sshd[2]: Failed password for b from 192.0.2.1 port 2 ssh2",
        "Dec 31 23:59:59 h sshd[3]: Failed password for c from 192.0.2.1 port 3 ssh2",  # late line
        "Jan  1 00:00:09 h sshd[4]: Failed password for d from 192.0.2.1 port 4 ssh2",
        "Mar  1 00:00:00 h sshd[5]: Failed password for e from 192.0.2.1 port 5 ssh2",
        "Feb 28 23:59:00 h sshd[6]: Failed password for f from 192.0.2.1 port 6 ssh2",  # late line
    )
    events, _, _ = load(path, year="2025")
    assert events["timestamp"].dt.year.tolist() == [2025, 2026, 2025, 2026, 2026, 2026]


def test_year_from_reference_date_puts_a_later_month_in_the_previous_year(tmp_path):
    path = write(
        tmp_path,
        "Dec 30 10:00:00 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2",
        "Jan  2 10:00:00 h sshd[2]: Accepted password for a from 192.0.2.1 port 2 ssh2",
    )
    events, _, _ = load(path, reference_date="2026-01-05")
    assert events["timestamp"].tolist() == [utc("2025-12-30 10:00:00"), utc("2026-01-02 10:00:00")]
    same_year, _, _ = load(path, reference_date="2026-12-31")
    assert same_year["timestamp"].dt.year.tolist() == [2026, 2027]


def test_year_from_file_modification_time(tmp_path):
    path = write(tmp_path, "Mar  2 08:15:04 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2")
    stamp = datetime(2024, 3, 3, 12, 0, tzinfo=timezone.utc).timestamp()
    os.utime(path, (stamp, stamp))
    events, _, _ = load(path)
    assert events["timestamp"].tolist() == [utc("2024-03-02 08:15:04")]


def test_timezone_converts_local_syslog_time_to_utc(tmp_path):
    path = write(tmp_path, "Mar  2 09:15:04 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2")
    events, _, _ = load(path, year="2026", timezone="Europe/Madrid")
    assert events["timestamp"].tolist() == [utc("2026-03-02 08:15:04")]


def test_repeated_hour_when_clocks_go_back_is_read_in_order(tmp_path):
    # Europe/Madrid leaves summer time on 2026-10-25 at 03:00 local: 02:00-02:59 happens twice.
    path = write(
        tmp_path,
        "Oct 25 02:30:00 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2",
        "Oct 25 02:10:00 h sshd[2]: Accepted password for a from 192.0.2.1 port 2 ssh2",
    )
    events, _, _ = load(path, year="2026", timezone="Europe/Madrid")
    assert events["timestamp"].tolist() == [utc("2026-10-25 00:30:00"), utc("2026-10-25 01:10:00")]


def test_rfc3339_without_offset_uses_the_timezone_option(tmp_path):
    path = write(tmp_path, "2026-03-02T09:15:04.250 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2")
    events, _, _ = load(path, timezone="Europe/Madrid")
    assert events["timestamp"].tolist() == [utc("2026-03-02 08:15:04.250")]


def test_notice_and_attempt_split_across_blocks_count_once(tmp_path):
    filler = [f"Mar  2 08:00:{i % 60:02d} h CRON[{i}]: pam_unix(cron:session): session closed for user root" for i in range(300)]
    path = write(
        tmp_path,
        *filler,
        "Mar  2 08:01:00 h sshd[77]: Invalid user zoe from 192.0.2.9 port 4000",
        *filler,
        "Mar  2 08:01:03 h sshd[77]: Failed password for invalid user zoe from 192.0.2.9 port 4000 ssh2",
    )
    events, _, batches = load(path, year="2026", chunk_bytes="4096")
    assert batches > 2
    assert events["user_id"].tolist() == ["zoe"]
    assert events["source_row"].tolist() == [602]


def test_large_file_is_read_in_several_bounded_batches(tmp_path):
    lines = [
        f"Mar  2 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} web{i % 3} sshd[{1000 + i}]: "
        f"{'Accepted' if i % 4 else 'Failed'} password for user{i % 50} from 192.0.2.{i % 200} port {40000 + i} ssh2"
        for i in range(5000)
    ]
    path = write(tmp_path, *lines)
    batches = list(read(str(path), {"year": "2026", "chunk_bytes": "32768"}))
    assert len(batches) > 10
    assert max(len(b.frame) for b in batches) < 1000  # no batch holds the whole file
    rows = pd.concat([b.frame["source_row"] for b in batches])
    assert sorted(rows) == list(range(1, 5001))
    events = pd.concat([b.frame for b in batches])
    assert events["event_id"].is_unique
    assert (~events["login_success"]).sum() == 1250


def test_event_ids_are_stable_across_reads(tmp_path):
    first, _, _ = load(SAMPLE, year="2025")
    again, _, _ = load(SAMPLE, year="2025")
    assert first["event_id"].tolist() == again["event_id"].tolist()
    assert first["event_id"].is_unique


def test_the_reader_is_found_by_format_name():
    assert get_reader("sshd") is read


def test_unknown_timezone_is_a_clear_error(tmp_path):
    path = write(tmp_path, "Mar  2 09:15:04 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2")
    with pytest.raises(SourceOptionError, match="Europe/Madird"):
        load(path, year="2026", timezone="Europe/Madird")


def test_bad_reference_date_is_a_clear_error(tmp_path):
    path = write(tmp_path, "Mar  2 09:15:04 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2")
    with pytest.raises(SourceOptionError, match="reference_date"):
        load(path, reference_date="March 2nd")


def test_unknown_year_without_modification_time_asks_for_the_option(tmp_path, monkeypatch):
    import ztad.ingest.formats.sshd as sshd

    path = write(tmp_path, "Mar  2 09:15:04 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2")
    monkeypatch.setattr(sshd, "_modification_time", lambda _: None)
    with pytest.raises(YearUnknownError, match="'year'"):
        load(path)


def skipped_rows(path, **options):
    return sorted(int(row) for b in read(str(path), options) for row in b.skipped)


def test_an_empty_user_name_is_an_attempt_on_an_unknown_account(tmp_path):
    path = write(tmp_path, "Mar  2 08:00:00 h sshd[1]: Failed password for invalid user  from 192.0.2.1 port 1 ssh2")
    events, quarantine, _ = load(path, year="2026")
    assert events["user_id"].tolist() == ["(empty)"] and quarantine.empty
    assert not events["login_success"].any()


def test_maximum_attempts_exceeded_counts_when_it_is_the_only_trace(tmp_path):
    path = write(
        tmp_path,
        "Mar  2 08:00:00 h sshd[1]: error: maximum authentication attempts exceeded for root from 192.0.2.1 "
        "port 1 ssh2 [preauth]",
        "Mar  2 08:00:01 h sshd[2]: Failed password for bob from 192.0.2.2 port 2 ssh2",
        "Mar  2 08:00:02 h sshd[2]: error: maximum authentication attempts exceeded for invalid user bob from "
        "192.0.2.2 port 2 ssh2 [preauth]",
        "Mar  2 09:00:00 h sshd[3]: Accepted password for carol from 192.0.2.3 port 3 ssh2",
    )
    events, quarantine, _ = load(path, year="2026", login_grace_time="60")
    assert sorted(events["user_id"]) == ["bob", "carol", "root"] and quarantine.empty
    assert events.set_index("user_id").loc["root", "source_row"] == 1
    assert skipped_rows(path, year="2026", login_grace_time="60") == [3]  # bob's attempt counted once


def test_connection_closed_and_disconnected_before_authentication_are_attempts(tmp_path):
    path = write(
        tmp_path,
        "Mar  2 08:00:00 h sshd[1]: Connection closed by authenticating user admin 192.0.2.1 port 1 [preauth]",
        "Mar  2 08:00:01 h sshd[2]: Disconnected from invalid user oracle 192.0.2.2 port 2 [preauth]",
        "Mar  2 08:00:02 h sshd[3]: Invalid user test from 192.0.2.3 port 3",
        "Mar  2 08:00:03 h sshd[3]: Connection closed by invalid user test 192.0.2.3 port 3 [preauth]",
        "Mar  2 08:00:04 h sshd[4]: Connection closed by 192.0.2.4 port 4 [preauth]",  # no user: no attempt
        "Mar  2 08:00:05 h sshd[5]: Disconnected from user alice 192.0.2.5 port 5",  # a logout
        "Mar  2 09:00:00 h sshd[6]: Accepted password for carol from 192.0.2.3 port 6 ssh2",
    )
    events, quarantine, _ = load(path, year="2026", login_grace_time="60")
    assert events.sort_values("source_row")["user_id"].tolist() == ["admin", "oracle", "test", "carol"]
    assert quarantine.empty
    assert skipped_rows(path, year="2026", login_grace_time="60") == [4, 5, 6]


def test_pam_failure_alone_is_a_password_attempt(tmp_path):
    path = write(
        tmp_path,
        "Mar  2 08:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
        "tty=ssh ruser= rhost=192.0.2.1  user=root",
        "Mar  2 08:00:01 h sshd[2]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
        "tty=ssh ruser= rhost=192.0.2.2",
        "Mar  2 09:00:00 h sshd[3]: Accepted password for carol from 192.0.2.3 port 6 ssh2",
    )
    events, _, _ = load(path, year="2026", login_grace_time="60")
    pam = events[~events["login_success"]]
    assert pam["user_id"].tolist() == ["root", "(empty)"]
    assert pam["auth_method"].tolist() == ["password", "password"]


def test_methods_keep_key_probes_apart_from_password_failures(sample):
    events, _, _ = sample
    by_row = events.drop_duplicates("source_row").set_index("source_row")["auth_method"]
    assert by_row[1] == "publickey" and by_row[4] == "password"
    assert by_row[21] == "keyboard-interactive"  # keyboard-interactive/pam
    assert pd.isna(by_row[12])  # "Invalid user" alone says no method


def test_every_line_is_an_event_quarantined_or_skipped(sample):
    events, quarantine, _ = sample
    skipped = skipped_rows(SAMPLE, year="2025")
    lines = SAMPLE.read_text().splitlines()
    records = {n for n, text in enumerate(lines, start=1) if text.strip()}
    seen = set(events["source_row"]) | set(quarantine["source_row"]) | set(skipped)
    assert seen == records
    assert len(events["source_row"].unique()) + len(quarantine) + len(skipped) == len(records)


def test_a_line_that_is_not_utf8_is_quarantined(tmp_path):
    path = tmp_path / "auth.log"
    path.write_bytes(
        b"Mar  2 08:00:00 h sshd[1]: Failed password for jos\xe9 from 192.0.2.1 port 1 ssh2\n"
        b"Mar  2 08:00:01 h sshd[2]: Failed password for bob from 192.0.2.2 port 2 ssh2\n"
    )
    events, quarantine, _ = load(path, year="2026")
    assert events["user_id"].tolist() == ["bob"]
    assert quarantine[["source_row", "field", "reason"]].values.tolist() == [[1, "line", "not UTF-8 text"]]
