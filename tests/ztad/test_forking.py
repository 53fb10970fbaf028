"""Forked copies: started with a pipe to answer through, and reaped, waited for or killed."""

from __future__ import annotations

import os
import signal
import time

import pytest

from ztad.forking import fork_copy, reap


def _answer(text: bytes):
    def run(writer: int) -> None:
        os.write(writer, text)
        os._exit(0)

    return run


def _read_all(reader: int) -> bytes:
    chunks = []
    while chunk := os.read(reader, 1024):
        chunks.append(chunk)
    os.close(reader)
    return b"".join(chunks)


def test_the_copy_answers_through_the_pipe():
    pid, reader = fork_copy(_answer(b"done"))
    assert pid != os.getpid()
    assert _read_all(reader) == b"done"
    assert reap(pid) == 0


def test_a_copy_whose_function_returns_still_ends_there():
    pid, reader = fork_copy(lambda writer: None)  # forgets to end the copy
    assert _read_all(reader) == b""
    assert reap(pid) == 1


def test_a_copy_ending_within_its_grace_is_waited_for_not_killed():
    pid, reader = fork_copy(lambda writer: (time.sleep(0.3), os._exit(0)))
    os.close(reader)
    assert reap(pid, grace=5.0) == 0


def test_a_copy_still_running_after_its_grace_is_killed():
    pid, reader = fork_copy(lambda writer: (time.sleep(30), os._exit(0)))
    os.close(reader)
    began = time.monotonic()
    assert reap(pid, grace=0.2) == -signal.SIGKILL
    assert time.monotonic() - began < 5


def test_no_copy_is_left_when_the_fork_fails(monkeypatch):
    def no_fork():
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    open_before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError, match="unavailable"):
        fork_copy(_answer(b"never"))
    assert set(os.listdir("/proc/self/fd")) == open_before
