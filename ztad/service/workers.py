"""``ztad serve --workers N``: N uvicorn worker processes answering on one port.

The parent process checks what can fail before any worker starts (the token, the findings
database and its schema, the listening address), so that a start-up error is one line, then
binds one socket per worker on the port (``SO_REUSEPORT``, so that the kernel spreads the
connections over the workers) and starts a uvicorn server on each in a process of its own
(``multiprocessing``'s spawn), started again when it dies. Each worker builds its own app with
:class:`WorkerApp`, which reaches it pickled through the pipe multiprocessing starts it with:
the tokens and the database URL never go on a command line, into the environment, a file or a
log. Each worker loads the model and the baselines once at start and follows newer runs on its
own (:class:`ztad.service.state.StateHolder`).

The workers write their metrics to a private folder the parent creates and removes
(prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``); any worker's
``/metrics`` sums them over all workers (:mod:`ztad.service.metrics`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ztad.config import JobConfig
    from ztad.service.auth import ServiceSettings

log = logging.getLogger(__name__)

#: The environment variable prometheus_client reads, when imported, for its multiprocess folder.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: Connections waiting to be accepted (uvicorn's default).
LISTEN_BACKLOG = 2048
#: The exit code of a worker that failed before serving (uvicorn's): :class:`Supervisor` then
#: stops instead of starting it over and over.
STARTUP_FAILURE = 3


@dataclass(frozen=True)
class WorkerApp:
    """The app factory each worker calls: the API over ``config`` with ``settings``.

    ``setup`` runs first in the worker (the command's logging and warning settings, which a
    spawned process does not inherit).
    """

    config: JobConfig = field(repr=False)
    settings: ServiceSettings = field(repr=False)
    dashboard: bool
    metrics_dir: str
    setup: Callable[[], None] | None = None

    def __call__(self) -> FastAPI:
        if self.setup is not None:
            self.setup()
        try:
            from ztad.service.api import create_app

            app = create_app(self.config, self.settings, dashboard=self.dashboard, worker_of=self.metrics_dir)
        except Exception as error:  # noqa: BLE001 - one line, and the supervisor stops rather than retries
            print(f"ztad: error: a worker could not start: {_one_line(error)}", file=sys.stderr, flush=True)
            sys.exit(STARTUP_FAILURE)
        _load_state(app)
        return app


def _load_state(app: FastAPI) -> None:
    """Load the model and the baselines before serving, so no request waits for them.

    A state that cannot be loaded yet (no run, a model file missing) is left to the requests,
    which say why, as with one process.
    """
    from ztad.service.state import NotReadyError

    try:
        app.state.holder.current()
    except NotReadyError:
        pass
    except Exception as error:  # noqa: BLE001 - the requests that need the state report it
        log.warning("the scoring state could not be loaded ahead of requests: %s", _one_line(error))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def check_service(config: JobConfig, settings: ServiceSettings) -> None:
    """What the workers would each fail on, checked once: a token, the database, its schema."""
    from ztad.store import FindingsStore

    settings.require_token()
    FindingsStore(config.resolved_database_url).create_schema()


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """One listening socket per worker on ``host:port``, sharing the port (``SO_REUSEPORT``).

    The kernel spreads new connections over the sockets by their addresses. On one socket
    shared by every worker, the worker woken first takes nearly every connection, so a few
    keep-alive clients would all land on one worker. The port is first bound once without
    sharing, so that a port another server holds is an error rather than shared.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    _bind(socket.socket(family), host, port, share=False).close()
    return [_bind(socket.socket(family), host, port, share=True) for _ in range(count)]


def _bind(listener: socket.socket, host: str, port: int, *, share: bool) -> socket.socket:
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        listener.bind((host, port))
        listener.listen(LISTEN_BACKLOG)
    except OSError as error:
        listener.close()
        raise ValueError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.set_inheritable(True)
    return listener


def serve_workers(
    config: JobConfig,
    settings: ServiceSettings,
    listeners: list[socket.socket],
    *,
    dashboard: bool,
    verbose: bool,
    setup: Callable[[], None] | None = None,
) -> int:
    """Serve the API (and the dashboard) from one worker process per socket of ``listeners``
    (:func:`listening_sockets`) until stopped: 0, or 2 when a worker could not start.
    ``setup`` is :attr:`WorkerApp.setup`."""
    import uvicorn

    host, port = listeners[0].getsockname()[:2]
    try:
        with tempfile.TemporaryDirectory(prefix="ztad-metrics-") as shared, _environment(METRICS_DIR_VARIABLE, shared):
            uvicorn_config = uvicorn.Config(
                WorkerApp(config, settings, dashboard, shared, setup),
                factory=True,
                host=host,
                port=port,
                log_level="info" if verbose else "warning",
                access_log=verbose,
            )
            return Supervisor(uvicorn_config, listeners).run()
    finally:
        for listener in listeners:
            listener.close()


class Supervisor:
    """Runs one uvicorn worker process per socket, starts a worker again when it dies, and
    stops them all on SIGINT or SIGTERM (or when one fails before serving)."""

    def __init__(self, config, listeners: list[socket.socket]):
        self.config, self.listeners = config, listeners
        self.stop = threading.Event()
        self.failed = False

    def run(self) -> int:
        """0 once stopped, 2 when a worker could not start."""
        previous = {sig: signal.signal(sig, lambda *_: self.stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        workers = [self._start(listener) for listener in self.listeners]
        try:
            while not self.stop.wait(0.5):
                workers = [self._alive(worker, listener) for worker, listener in zip(workers, self.listeners)]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.join()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 2 if self.failed else 0

    def _start(self, listener: socket.socket):
        from uvicorn.supervisors.multiprocess import Process

        worker = Process(self.config, [listener])
        worker.start()
        return worker

    def _alive(self, worker, listener: socket.socket):
        """``worker``, or its replacement when it died; a worker that failed before serving
        would fail again, so that stops them all."""
        if worker.process.is_alive():
            return worker
        worker.join()
        if worker.exitcode == STARTUP_FAILURE:
            self.failed = True
            self.stop.set()
            return worker
        log.warning("worker process %s ended (exit code %s): starting another", worker.pid, worker.exitcode)
        return self._start(listener)


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``name`` set to ``value`` while the workers are started from this process's environment."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
