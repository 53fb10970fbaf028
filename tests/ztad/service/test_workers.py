"""``ztad serve --workers 2``: real worker processes answering over real HTTP, on SQLite and on
PostgreSQL, their metrics summed, their tokens checked, their start-up errors one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fixtures.served import API_TOKEN, READ_TOKEN, SERVED_DAYS
from tests.ztad.service.browser import free_port, wait_until_up
from tests.ztad.service.conftest import READ_HEADERS, record_run
from tests.ztad.service.test_predict import as_requests
from ztad.cli import main
from ztad.pipeline.workfiles import day_dir, read_parquet
from ztad.store import FindingsStore

#: Connections opened to spread requests over the workers, at least; the kernel hands each to a
#: worker by its addresses, so more are opened (up to :data:`MOST_CONNECTIONS`) until every
#: worker holds one.
CONNECTIONS = 12
MOST_CONNECTIONS = 64


@dataclass
class Workers:
    """A running ``ztad serve --workers 2`` and where it listens."""

    process: subprocess.Popen
    port: int
    output: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> set[int]:
        return {p.pid for p in psutil.Process(self.process.pid).children() if _listens(p, self.port)}

    def connections_per_worker(self) -> dict[int, int]:
        """Established connections to the port each worker holds."""
        return {
            p.pid: sum(c.laddr.port == self.port and c.status == psutil.CONN_ESTABLISHED for c in p.net_connections("tcp"))
            for p in psutil.Process(self.process.pid).children()
            if _listens(p, self.port)
        }  # fmt: skip


def _listens(process: psutil.Process, port: int) -> bool:
    return any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in process.net_connections("tcp"))


@contextmanager
def serving_workers(config, **environ: str) -> Iterator[Workers]:
    """``ztad -v serve --workers 2`` over ``config``'s state folder and database, in a process of
    its own (the access log on, to show that no token reaches the output)."""
    port = free_port()
    env = dict(os.environ, ZTAD_API_TOKEN=API_TOKEN, ZTAD_API_READ_TOKEN=READ_TOKEN, **environ)
    if config.database_url:
        env["ZTAD_DATABASE_URL"] = config.database_url
    command = [sys.executable, "-m", "ztad.cli", "-v", "serve", "--home", str(config.home)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workers = Workers(process, port)
    try:
        with httpx.Client(base_url=workers.url, timeout=120) as client:
            wait_until_up(client, process)
        yield workers
    finally:
        process.terminate()
        workers.output = process.communicate(timeout=120)[0]


@contextmanager
def connections(workers: Workers, headers: dict | None = None) -> Iterator[list[httpx.Client]]:
    """At least ``CONNECTIONS`` keep-alive clients, each with a connection of its own open, and
    more until every worker holds one of them: which worker the kernel hands a connection to
    is chance, and the tests ask something of every worker."""
    with ExitStack() as stack:
        clients: list[httpx.Client] = []
        while len(clients) < MOST_CONNECTIONS and (
            len(clients) < CONNECTIONS or 0 in workers.connections_per_worker().values()
        ):
            client = stack.enter_context(httpx.Client(base_url=workers.url, headers=headers or {}, timeout=120))
            client.get("/health")  # opens the connection, whatever the answer
            clients.append(client)
        yield clients


@pytest.fixture(scope="module")
def workers(served) -> Iterator[Workers]:
    with serving_workers(served.config) as running:
        yield running
    assert running.process.returncode == 0, running.output[-2000:]
    assert API_TOKEN not in running.output and READ_TOKEN not in running.output
    assert "GET /health" in running.output  # the access log was on


@pytest.fixture(scope="module")
def posted(served) -> list[dict]:
    """A few events of the last served day, as a client posts them."""
    events = read_parquet(day_dir(served.config, SERVED_DAYS[-1]) / "events.parquet")
    return as_requests(events.head(40))


def test_every_worker_answers_predict_and_health_as_one_process_does(workers, posted, client):
    expected = client.post("/predict", json={"events": posted}, headers=READ_HEADERS).json()
    with connections(workers, READ_HEADERS) as clients:
        for http in clients:
            assert http.get("/health").json()["status"] == "ok"
            assert http.post("/predict", json={"events": posted}).json() == expected
        held = workers.connections_per_worker()
    assert len(held) == 2 and all(count >= 1 for count in held.values()), held


def test_metrics_sum_the_requests_of_every_worker(workers):
    def findings_served(http: httpx.Client) -> float:
        text = http.get("/metrics").text
        line = 'ztad_api_requests_total{method="GET",route="/findings",status="200"}'
        counts = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)]
        return counts[0] if counts else 0.0

    with connections(workers, READ_HEADERS) as clients:
        before = findings_served(clients[0])
        for http in clients:
            assert http.get("/findings", params={"limit": 1}).status_code == 200
        assert len([n for n in workers.connections_per_worker().values() if n]) == 2
        assert findings_served(clients[-1]) - before == len(clients)
        text = clients[1].get("/metrics").text
    age = [row for row in text.splitlines() if row.startswith("ztad_last_run_age_seconds ")]
    assert age and float(age[0].split()[1]) >= 0


@pytest.mark.parametrize("authorization", [None, "Bearer not-the-token", f"Bearer {API_TOKEN}x", "Basic abc"])
def test_every_worker_refuses_a_missing_or_invalid_token(workers, posted, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    with connections(workers, headers) as clients:
        for http in clients:
            assert http.get("/health").status_code == 401
            assert http.post("/predict", json=posted[0]).status_code == 401


def test_the_workers_get_the_tokens_off_their_command_lines_and_share_a_private_metrics_folder(served):
    with serving_workers(served.config) as running:
        pids = running.worker_pids()
        commands = [" ".join(psutil.Process(pid).cmdline()) for pid in pids]
        folders = {psutil.Process(pid).environ()["PROMETHEUS_MULTIPROC_DIR"] for pid in pids}
        (folder,) = folders
        assert len(pids) == 2 and Path(folder).is_dir() and oct(Path(folder).stat().st_mode)[-3:] == "700"
    assert not any(API_TOKEN in c or READ_TOKEN in c for c in commands)
    assert not Path(folder).exists()  # removed when the server stopped


def test_each_worker_follows_a_newer_run(copied):
    served, config = copied
    version, day = served.summaries[-1].model_version, SERVED_DAYS[-1]
    with serving_workers(config, ZTAD_API_RELOAD_SECONDS="0") as running, connections(running, READ_HEADERS) as clients:
        before = {http.get("/health").json()["baseline_day"] for http in clients}
        record_run(FindingsStore(config.resolved_database_url), day + timedelta(days=1), version)
        after = {http.get("/health").json()["baseline_day"] for http in clients}
        held = running.connections_per_worker()
    assert before == {str(day + timedelta(days=1))} and after == {str(day + timedelta(days=2))}
    assert len([n for n in held.values() if n]) == 2, (held, running.output[-3000:])


# --------------------------------------------------------------------------- start-up errors


def test_without_a_token_the_workers_do_not_start(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ZTAD_API_TOKEN", raising=False)
    monkeypatch.delenv("ZTAD_API_READ_TOKEN", raising=False)
    assert main(["serve", "--home", str(tmp_path), "--workers", "2", "--port", "1"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("ztad: error: no API token")


def test_an_unreachable_database_stops_the_workers_start_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZTAD_API_TOKEN", API_TOKEN)
    url = "postgresql+psycopg://ztad@127.0.0.1:9/ztad?connect_timeout=2"
    args = ["serve", "--home", str(tmp_path), "--db", url, "--port", str(free_port()), "--workers", "2"]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("ztad: error: the findings database failed: ")


def test_a_port_in_use_is_one_line(served_sqlite):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, ZTAD_API_TOKEN=API_TOKEN)
        command = ["serve", "--home", str(served_sqlite.config.home), "--port", str(port), "--workers", "2"]
        done = subprocess.run(
            [sys.executable, "-m", "ztad.cli", *command], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"ztad: error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_workers_must_be_a_positive_count(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])
    assert "--workers: '0' is not a whole number of processes" in capsys.readouterr().err
