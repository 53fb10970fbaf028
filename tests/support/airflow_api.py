"""A small client of Airflow 3's REST API v2, authenticated with a JWT as any user would be.

``POST /auth/token`` exchanges the user's name and password for a token; every other call
carries it as ``Authorization: Bearer``. Only what the end-to-end test and a developer at the
stack need: DAGs, runs, task instances, backfills, Asset events.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

FINISHED = ("success", "failed")


class AirflowApiError(RuntimeError):
    """The API answered with an error status."""


class AirflowApi:
    """The REST API v2 of the Airflow at ``base_url``, as ``user``.

    :param base_url: e.g. ``http://127.0.0.1:8080``.
    :raises AirflowApiError: when the token is refused (wrong password).
    """

    def __init__(self, base_url: str, user: str, password: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        credentials = {"username": user, "password": password}
        answer = httpx.post(f"{self.base_url}/auth/token", json=credentials, timeout=timeout)
        _check(answer, "POST /auth/token")
        self.token = answer.json()["access_token"]
        self.client = httpx.Client(
            base_url=f"{self.base_url}/api/v2", timeout=timeout,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def call(self, method: str, path: str, **kwargs) -> Any:
        """One request; the decoded JSON answer (``None`` when empty)."""
        answer = self.client.request(method, path, **kwargs)
        _check(answer, f"{method} {path}")
        return answer.json() if answer.content else None

    def close(self) -> None:
        self.client.close()

    # ----------------------------------------------------------------------- DAGs and runs

    def dag(self, dag_id: str) -> dict:
        return self.call("GET", f"/dags/{dag_id}")

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict:
        """The DAG once the dag-processor has parsed it."""
        return _poll(lambda: self._dag_or_none(dag_id), lambda dag: dag is not None, timeout, f"DAG {dag_id}")

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        mask = {"update_mask": "is_paused"}
        return self.call("PATCH", f"/dags/{dag_id}", params=mask, json={"is_paused": paused})

    def trigger(self, dag_id: str, body: dict) -> dict:
        """``POST /dags/{dag_id}/dagRuns`` with ``body`` (``logical_date`` is required, may be null)."""
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str, **filters) -> list[dict]:
        params = {"limit": 100, "order_by": "id", **filters}
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300.0) -> dict:
        """The run once it has succeeded or failed."""
        return _poll(lambda: self.run(dag_id, run_id), lambda run: run["state"] in FINISHED, timeout,
                     f"run {dag_id} {run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.call("GET", path, params={"limit": 200})["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        if map_index >= 0:
            path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        return self.call("GET", path)["task_instances"]

    # ----------------------------------------------------------------------- settings

    def set_variable(self, key: str, value: str) -> dict:
        """Create or replace the Variable ``key``."""
        return self._upsert("/variables", key, {"key": key, "value": value})

    def set_connection(self, connection: dict) -> dict:
        """Create or replace a connection (``connection_id``, ``conn_type``, ``host`` ...)."""
        return self._upsert("/connections", connection["connection_id"], connection)

    def _upsert(self, collection: str, key: str, body: dict) -> dict:
        answer = self.client.post(collection, json=body)
        if answer.status_code == 409:
            answer = self.client.patch(f"{collection}/{key}", json=body)
        _check(answer, f"POST {collection} {key}")
        return answer.json()

    # ----------------------------------------------------------------------- backfills, assets

    def create_backfill(self, body: dict) -> dict:
        return self.call("POST", "/backfills", json=body)

    def wait_for_backfill(self, backfill_id: int, timeout: float = 300.0) -> dict:
        fetch = lambda: self.call("GET", f"/backfills/{backfill_id}")  # noqa: E731
        return _poll(fetch, lambda backfill: backfill["completed_at"], timeout, f"backfill {backfill_id}")

    def asset_events(self, **filters) -> list[dict]:
        return self.call("GET", "/assets/events", params={"limit": 100, **filters})["asset_events"]

    def _dag_or_none(self, dag_id: str) -> dict | None:
        answer = self.client.get(f"/dags/{dag_id}")
        return answer.json() if answer.status_code == 200 else None


def _check(answer: httpx.Response, what: str) -> None:
    if answer.status_code >= 400:
        raise AirflowApiError(f"{what}: HTTP {answer.status_code}: {answer.text[:1000]}")


def _poll(fetch, done, timeout: float, what: str, every: float = 1.0):
    """Fetch until ``done`` holds or ``timeout`` seconds pass. A fetch the busy API server does
    not answer in time counts as not done yet: the poll, not one request, has the deadline."""
    began = time.monotonic()
    value = None
    while True:
        try:
            value = fetch()
        except httpx.TimeoutException:
            pass
        else:
            if done(value):
                return value
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"{what} not done after {timeout:.0f} s: {value}")
        time.sleep(every)
