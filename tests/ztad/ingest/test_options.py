"""Source options given as text or values -> Python values, with the option named in errors."""

import pytest

from ztad.ingest.options import (
    DEFAULT_CHUNK_BYTES,
    SourceOptionError,
    chunk_bytes,
    option_bool,
    option_int,
    option_list,
    option_str,
    option_timezone,
)


def test_boolean_options_accept_common_spellings_and_reject_others():
    assert option_bool({"x": "Yes"}, "x", False) is True
    assert option_bool({"x": "0"}, "x", True) is False
    assert option_bool({}, "x", True) is True
    with pytest.raises(SourceOptionError, match="'x'"):
        option_bool({"x": "maybe"}, "x", False)


def test_whole_numbers_must_be_positive():
    assert option_int({"n": " 12 "}, "n", None) == 12
    assert option_int({"n": ""}, "n", 5) == 5
    for bad in ("0", "-3", "1.5", "many"):
        with pytest.raises(SourceOptionError, match="'n'"):
            option_int({"n": bad}, "n", None)


def test_lists_come_as_lists_or_comma_separated_text():
    assert option_list({"l": "3, 10,,2"}, "l") == ["3", "10", "2"]
    assert option_list({"l": [3, " a "]}, "l") == ["3", "a"]
    assert option_list({}, "l") is None


def test_text_and_time_zone_options():
    assert option_str({"s": "  okta "}, "s") == "okta"
    assert option_str({"s": "   "}, "s", "default") == "default"
    assert option_timezone({}) == "UTC"
    assert option_timezone({"timezone": "Europe/Madrid"}) == "Europe/Madrid"
    with pytest.raises(SourceOptionError, match="Mars/Olympus"):
        option_timezone({"timezone": "Mars/Olympus"})


def test_chunk_bytes_default_and_override():
    assert chunk_bytes({}) == DEFAULT_CHUNK_BYTES
    assert chunk_bytes({"chunk_bytes": "65536"}) == 65536
