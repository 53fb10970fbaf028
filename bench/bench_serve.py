"""How fast ``ztad serve`` answers ``/predict``: single-event latency and batch throughput.

Starts the real server (``ztad serve``, uvicorn) in a subprocess on this machine over a state
folder with at least one nightly run (``--home``; without it, generates a small organisation and
runs two days into a temporary folder), then times, with one keep-alive HTTP client:

- single events, one request each: p50 / p95 / p99 latency (target p95 <= 20 ms);
- batches of ``--batch`` events: events per second (target >= 20,000 in batches of 1,000).
  With ``--clients N``, N keep-alive clients send the ``--batches`` between them at the same
  time, each posting the same body encoded once (so a client costs little beside the server),
  and the figure is the events of all of them per second of wall-clock time. ``--workers N``
  starts the server with N worker processes (``ztad serve --workers N``); the bench prints how
  many of the clients' connections each worker holds (the kernel hands a new connection to
  whichever worker accepts it first, so two clients may land on one worker).

Beside each wall-clock figure it prints the server's CPU time per request (user + system of
all the threads of its processes, the workers too): on a machine other work loads, wall-clock times
grow with the load and the CPU time much less. It counts the math libraries' worker threads
too, which spin while they wait, so compare it between runs made one after the other.

The events are the last run day's own, re-posted. Prints figures; asserts nothing.

``--in-process`` times the scoring path without the server and the network instead: the CPU
time (user + system, all threads) of :func:`ztad.service.predict.score_document` per single
event and per batch, after parsing the events as ``/predict`` does. On a loaded machine it
varies far less than the wall-clock figures; compare runs made one after the other.

    .venv/bin/python bench/bench_serve.py
    .venv/bin/python bench/bench_serve.py --home ztad-home/demo --singles 1000 --batches 30
    .venv/bin/python bench/bench_serve.py --home ztad-home/demo --batches 40 --workers 2 --clients 2
    .venv/bin/python bench/bench_serve.py --home ztad-home/demo --in-process
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

from ztad.config import JobConfig, SourceConfig
from ztad.pipeline.workfiles import day_dir, read_parquet
from ztad.store import FindingsStore

TOKEN = "bench-token"


def _prepared_home(workdir: Path) -> Path:
    from ztad import pipeline
    from ztad.synth import generate

    start = date(2026, 3, 2)
    summary = generate(workdir / "logs", start=start, days=16, users=200, seed=3, clean_days=14)
    print(f"generated {summary}", flush=True)
    config = JobConfig(source=SourceConfig(root=str(workdir / "logs")), home=workdir / "home")
    pipeline.run_range(start + timedelta(days=14), start + timedelta(days=15), config)
    return workdir / "home"


def _events(home: Path) -> list[dict]:
    """The last run day's events as a client would post them."""
    config = JobConfig(source=SourceConfig(root="unused"), home=home)
    day = FindingsStore(config.resolved_database_url).runs()["day"].max()
    events = read_parquet(day_dir(config, date.fromisoformat(str(day)[:10])) / "events.parquet")
    columns = [
        "timestamp",
        "user_id",
        "device_id",
        "ip_address",
        "location",
        "login_success",
        "resource",
        "bytes_transferred",
    ]
    frame = events[columns].astype(object).where(events[columns].notna(), None)
    frame["timestamp"] = events["timestamp"].map(lambda t: t.isoformat())
    return [{k: v for k, v in row.items() if v is not None} for row in frame.to_dict("records")]


def _serve(home: Path, port: int, workers: int = 1) -> subprocess.Popen:
    env = dict(os.environ, ZTAD_API_TOKEN=TOKEN)
    command = [sys.executable, "-m", "ztad.cli", "serve", "--home", str(home), "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait(client: httpx.Client, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read()}")
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within 120 s")


def _cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user + system) the server's processes have used so far, or NaN without ``/proc``."""
    total = 0.0
    for pid in (server.pid, *(child.pid for child in _children(server))):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(server: subprocess.Popen) -> list:
    import psutil

    try:
        return psutil.Process(server.pid).children(recursive=True)
    except psutil.Error:
        return []


def _connections_per_worker(server: subprocess.Popen, port: int) -> list[int]:
    """How many established connections to ``port`` each of the server's processes holds."""
    import psutil

    counts = []
    for process in (psutil.Process(server.pid), *_children(server)):
        held = [
            c for c in process.net_connections(kind="tcp")
            if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
        ]  # fmt: skip
        if held:
            counts.append(len(held))
    return sorted(counts, reverse=True)


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _in_process(home: Path, events: list[dict], singles: int, size: int, batches: int) -> None:
    """CPU time of the scoring path per single event and per batch, in this process."""
    from pydantic import TypeAdapter

    from ztad.service.api import create_app
    from ztad.service.auth import ServiceSettings
    from ztad.service.predict import Batch, Event, score_document

    config = JobConfig(source=SourceConfig(root="unused"), home=home)
    app = create_app(config, ServiceSettings(triage_token=TOKEN))
    body = TypeAdapter(Batch | Event)
    batch = body.validate_python({"events": (events * (size // len(events) + 1))[:size]}).events
    ones = [[body.validate_python(event)] for event in events[: min(singles, len(events))]]
    for one in ones[:20]:  # warm-up: the first request loads the model and the baseline
        score_document(app, one)
    score_document(app, batch)
    began = time.process_time()
    for i in range(singles):
        score_document(app, ones[i % len(ones)])
    single = (time.process_time() - began) / singles * 1000
    began = time.process_time()
    for _ in range(batches):
        score_document(app, batch)
    per_batch = (time.process_time() - began) / batches * 1000
    print(
        f"in process: single event {single:.1f} ms CPU over {singles} calls; batch of {size} "
        f"{per_batch:.1f} ms CPU over {batches} calls ({size / per_batch * 1000:,.0f} events per CPU second)"
    )


class _Clients:
    """``count`` keep-alive clients sending the same pre-encoded batch at the same time.

    With ``spread``, a client whose connection landed on a worker another client already holds
    while a worker holds none connects again (up to 20 times), as a load balancer in front of
    the workers would spread them; the kernel alone picks a worker by the connection's
    addresses, so two clients land on one of two workers half the time.
    """

    def __init__(self, server: subprocess.Popen, port: int, headers: dict, count: int, spread: bool):
        self.server, self.port, self.reconnections = server, port, 0
        self.headers = {**headers, "Content-Type": "application/json"}
        self.clients, taken = [], set()
        for _ in range(count):
            client, worker = self._connect()
            for _ in range(20 if spread else 0):
                if worker not in taken or len(taken) >= len(self._workers()):
                    break
                client.close()
                client, worker = self._connect()
                self.reconnections += 1
            self.clients.append(client)
            taken.add(worker)

    def _connect(self) -> tuple[httpx.Client, int]:
        """A client with its connection open, and the server process holding the other end."""
        import psutil

        mine = psutil.Process()
        before = {c.laddr for c in mine.net_connections("tcp")}
        client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=self.headers, timeout=120)
        client.get("/health").raise_for_status()
        (local,) = [
            c.laddr for c in mine.net_connections("tcp")
            if c.laddr not in before and c.raddr and c.raddr.port == self.port
        ]  # fmt: skip
        for worker in self._workers():
            if any(c.raddr == local for c in worker.net_connections("tcp")):
                return client, worker.pid
        return client, self.server.pid

    def _workers(self) -> list:
        """The processes accepting connections: the workers, or the server itself."""
        import psutil

        listening = [
            child for child in _children(self.server)
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port for c in child.net_connections("tcp"))
        ]  # fmt: skip
        return listening or [psutil.Process(self.server.pid)]

    def warm_up(self, body: bytes) -> None:
        """One batch from each client."""
        for client in self.clients:
            client.post("/predict", content=body).raise_for_status()

    def send(self, body: bytes, requests: int) -> float:
        """Wall-clock seconds for the clients to send ``requests`` batches between them."""
        shares = [len(range(i, requests, len(self.clients))) for i in range(len(self.clients))]
        ready = threading.Barrier(len(self.clients) + 1)

        def send_share(client: httpx.Client, share: int) -> None:
            ready.wait()
            for _ in range(share):
                client.post("/predict", content=body).raise_for_status()

        threads = [threading.Thread(target=send_share, args=pair) for pair in zip(self.clients, shares)]
        for thread in threads:
            thread.start()
        ready.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        return time.perf_counter() - began

    def close(self) -> None:
        for client in self.clients:
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="a state folder with nightly runs (default: prepare one)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--singles", type=int, default=500, help="single-event requests timed")
    parser.add_argument("--batch", type=int, default=1000, help="events per batch request")
    parser.add_argument("--batches", type=int, default=20, help="batch requests timed")
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients sending the batches")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of the server")
    parser.add_argument(
        "--no-spread", action="store_true", help="keep the clients on the workers the kernel gives them"
    )
    parser.add_argument("--in-process", action="store_true", help="time the scoring path without the server")
    args = parser.parse_args()

    home = (
        args.home.resolve()
        if args.home
        else _prepared_home(Path(tempfile.mkdtemp(prefix="ztad-bench-serve-")))
    )
    events = _events(home)
    if args.in_process:
        _in_process(home, events, args.singles, args.batch, args.batches)
        return
    print(f"{len(events):,} events of the last run day; server on 127.0.0.1:{args.port}", flush=True)
    server = _serve(home, args.port, args.workers)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", headers=headers, timeout=120) as client:
            _wait(client, server)
            for event in events[:20]:  # warm-up: first requests load the model and the baseline
                client.post("/predict", json=event).raise_for_status()
            latencies = []
            cpu = _cpu_seconds(server)
            for i in range(args.singles):
                began = time.perf_counter()
                client.post("/predict", json=events[i % len(events)]).raise_for_status()
                latencies.append((time.perf_counter() - began) * 1000)
            print(
                f"single event: p50 {_percentile(latencies, 50):.1f} ms, "
                f"p95 {_percentile(latencies, 95):.1f} ms, p99 {_percentile(latencies, 99):.1f} ms "
                f"over {args.singles} requests (target p95 <= 20 ms); server CPU "
                f"{(_cpu_seconds(server) - cpu) / args.singles * 1000:.1f} ms per request"
            )
            batch = (events * (args.batch // len(events) + 1))[: args.batch]
            body = json.dumps({"events": batch}).encode()
            clients = _Clients(server, args.port, headers, args.clients, spread=not args.no_spread)
            clients.warm_up(body)
            cpu = _cpu_seconds(server)
            seconds = clients.send(body, args.batches)
            cpu = _cpu_seconds(server) - cpu
            rate = args.batch * args.batches / seconds
            print(
                f"batches of {args.batch}: {rate:,.0f} events/s, {seconds / args.batches * 1000:.0f} ms per "
                f"request over {args.batches} requests (target >= 20,000 events/s); server CPU "
                f"{cpu / args.batches * 1000:.0f} ms per request"
            )
            if args.clients > 1 or args.workers > 1:
                print(
                    f"{args.clients} clients, {args.workers} workers: connections per server process "
                    f"(the single-event client's too) {_connections_per_worker(server, args.port)}, "
                    f"{clients.reconnections} reconnections to spread the clients"
                )
            clients.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
