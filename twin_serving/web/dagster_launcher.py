"""Launch the collection job and follow its run through Dagster's GraphQL API.

The page never imports the Dagster code location: it talks to whichever webserver
``TWIN_DAGSTER_URL`` names, so a run started here is the same run the Dagster UI shows.
The client is synchronous (requests); the router calls it from a worker thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from gql.transport.exceptions import TransportConnectionFailed, TransportServerError

# Metadata labels on collection materializations that the page shows as counts, in this order.
COUNT_LABELS = ("new", "changed", "unchanged", "removed", "failed", "documents")
# The asset whose metadata is the run's summary; per-source assets are summed for what it lacks
# (all of it, until it lands).
SUMMARY_ASSET = "raw_documents"
TERMINAL_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}

# The authors partition set of twin_assets (the page cannot import the Dagster wiring).
AUTHORS_PARTITIONS = "authors"
ADD_PARTITION_MUTATION = """
mutation TwinAddAuthor($partitionsDefName: String!, $partitionKey: String!, $repositorySelector: RepositorySelector!) {
  addDynamicPartition(partitionsDefName: $partitionsDefName, partitionKey: $partitionKey, repositorySelector: $repositorySelector) {
    __typename
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
RUN_QUERY = """
query TwinRunProgress($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId
      status
      startTime
      endTime
      pipelineName
      stepStats { stepKey status }
      assetMaterializations {
        assetKey { path }
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on JsonMetadataEntry { jsonString }
        }
      }
    }
    ... on PythonError { message }
    ... on RunNotFoundError { message }
  }
}
"""

LAST_MATERIALIZATION_QUERY = """
query TwinLastMaterialization($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 1) { timestamp runId }
    }
  }
}
"""


RUNS_QUERY = """
query TwinRuns($filter: RunsFilter!, $limit: Int!) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { runId pipelineName status startTime endTime creationTime } }
    ... on PythonError { message }
  }
}
"""

CHECK_EXECUTIONS_QUERY = """
query TwinCheckExecutions($path: [String!]!, $check: String!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $check, limit: 10) {
    runId
    status
    evaluation { success description }
  }
}
"""

ACTIVE_STATUSES = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
# The runs a collection sets off through sensors, in pipeline order: (job, what it does).
FOLLOW_ON_JOBS = (
    ("features_job", "Features: clean, chunk and embed into the knowledge base"),
    ("dataset_job", "Instruction dataset"),
    ("continuous_training_job", "Training, evaluation and promotion"),
)
# The promotion gate, reported with the training run.
GATE = (("model_evaluation",), "beats_baseline")
GATE_WORDS = {
    "SUCCEEDED": "passed: the candidate is promoted",
    "FAILED": "failed: the candidate is held back, production keeps the current model",
    "IN_PROGRESS": "evaluating",
    "SKIPPED": "skipped",
    "EXECUTION_FAILED": "could not run",
}


class CollectionRunning(RuntimeError):
    """A collection run is already queued or running in Dagster: ``run_id`` is that run."""

    def __init__(self, run_id: str):
        super().__init__(f"A collection is already running in Dagster (run {run_id[:8]}).")
        self.run_id = run_id


class DagsterUnavailable(RuntimeError):
    """Dagster could not be reached or refused the request; the message is for the user."""


_CONNECTION_ERRORS = (
    requests.exceptions.RequestException,
    TransportConnectionFailed,
    TransportServerError,
    OSError,
)


def _connection_cause(error: BaseException) -> BaseException | None:
    """The network failure behind a client error, if that is what it was."""
    cause = error.__cause__ or error.__context__
    while cause is not None:
        if isinstance(cause, _CONNECTION_ERRORS):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


@dataclass
class FollowOnRun:
    """A run a collection set off (features, dataset, training), as the page lists it."""

    job: str
    label: str
    run_id: str | None = None
    status: str = "NOT_LAUNCHED"
    url: str | None = None
    gate: str | None = None  # the promotion gate's outcome, for the training run


@dataclass
class RunProgress:
    run_id: str
    status: str
    url: str
    counts: dict[str, int] = field(default_factory=dict)
    steps_done: int = 0
    steps_total: int = 0
    started_at: str | None = None
    ended_at: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    follow_on: list[FollowOnRun] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def outcome(self) -> str:
        """``running``, ``ok``, ``partial`` (succeeded, some sources unread), ``failed``,
        ``canceled``: what the page colours the run by."""
        if not self.finished:
            return "running"
        if self.status == "SUCCESS":
            return "partial" if self.failures else "ok"
        return "failed" if self.status == "FAILURE" else "canceled"


def _short(error: DagsterGraphQLClientError) -> str:
    """One readable line: the client puts whole GraphQL documents into its messages."""
    if len(error.args) > 1:
        return f"{error.args[0]}: {error.args[1]}"[:300]
    cause = error.__cause__
    text = str(cause) if cause is not None else str(error.args[0] if error.args else error)
    return text.strip().splitlines()[0][:300] if text.strip() else type(error).__name__


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(float(timestamp), tz=UTC).isoformat(timespec="seconds")


def collection_counts(materializations: list[dict]) -> dict[str, int]:
    """Counts from the run's materializations: the summary asset's where it has them, else the
    running sum over the per-source assets materialized so far."""
    summary: dict[str, int] = {}
    totals: dict[str, int] = {}
    for event in materializations:
        values = {
            entry["label"]: int(entry.get("intValue", entry.get("floatValue")))
            for entry in event.get("metadataEntries", [])
            if entry.get("label") in COUNT_LABELS
            and entry.get("intValue", entry.get("floatValue")) is not None
        }
        if event["assetKey"]["path"][-1] == SUMMARY_ASSET:
            summary = values
        else:
            for label, value in values.items():
                totals[label] = totals.get(label, 0) + value
    chosen = {**totals, **summary}
    return {label: chosen[label] for label in COUNT_LABELS if label in chosen}


def collection_failures(materializations: list[dict]) -> list[dict[str, str]]:
    """Each source that could not be read, with its asset and reason, from the per-source
    materializations' ``failed_sources`` metadata."""
    failures = []
    for event in materializations:
        for entry in event.get("metadataEntries", []):
            if entry.get("label") != "failed_sources" or not entry.get("jsonString"):
                continue
            try:
                items = json.loads(entry["jsonString"])
            except ValueError:
                continue
            for item in items if isinstance(items, list) else []:
                failures.append({
                    "asset": event["assetKey"]["path"][-1],
                    "source": str(item.get("source", "")),
                    "reason": str(item.get("reason", "")),
                })
    return failures


class CollectionLauncher:
    """Launches ``collection_job`` in one code location and reports on its runs."""

    def __init__(
        self,
        dagster_url: str,
        location: str,
        repository: str,
        job: str,
        timeout_s: int = 10,
    ) -> None:
        parts = urlsplit(dagster_url.rstrip("/"))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"Dagster URL must be http(s)://host[:port][/prefix], got {dagster_url!r}")
        self.ui_url = dagster_url.rstrip("/")
        self.location = location
        self.repository = repository
        self.job = job
        self._client = DagsterGraphQLClient(
            parts.hostname,
            port_number=parts.port,
            use_https=parts.scheme == "https",
            timeout=timeout_s,
            path_prefix=parts.path,
        )

    @classmethod
    def from_settings(cls, settings) -> CollectionLauncher:
        return cls(
            settings.dagster_url,
            settings.dagster_location,
            settings.dagster_repository,
            settings.collection_job,
            settings.dagster_timeout_s,
        )

    def ping(self) -> str:
        """Dagster's version; ``DagsterUnavailable`` when it does not answer."""
        return str(self._execute("query TwinPing { version }", {})["version"])

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url}/runs/{run_id}"

    def _unreachable(self, error: Exception) -> DagsterUnavailable:
        return DagsterUnavailable(
            f"Dagster is not reachable at {self.ui_url}. Start it with `make dev` (or set "
            "TWIN_DAGSTER_URL to where it runs), then try again."
        )

    def _execute(self, query: str, variables: dict) -> dict:
        try:
            return self._client._execute(query, variables)
        except DagsterGraphQLClientError as error:
            if (cause := _connection_cause(error)) is not None:
                raise self._unreachable(cause) from error
            raise DagsterUnavailable(f"Dagster refused the request: {_short(error)}") from error

    def launch(self, authors: list[str], tags: dict[str, str] | None = None) -> str:
        """Submits one run of the job per author (their partition of ``authors``, added to
        Dagster first when it is new) and returns the first run's id; Dagster's run queue runs
        them one at a time. ``CollectionRunning`` when Dagster already has a collection queued
        or running."""
        if not authors:
            raise DagsterUnavailable("No author to collect: add one to the profiles first.")
        if (active := self.active_run()) is not None:
            raise CollectionRunning(active)
        run_ids = []
        for slug in authors:
            self.add_author(slug)
            run_ids.append(self._submit({**(tags or {}), "dagster/partition": slug}))
        return run_ids[0]

    def add_author(self, slug: str) -> None:
        """Adds the author's partition (the ``author_partitions`` sensor would, within its interval)."""
        data = self._execute(ADD_PARTITION_MUTATION, {
            "partitionsDefName": AUTHORS_PARTITIONS, "partitionKey": slug,
            "repositorySelector": {"repositoryLocationName": self.location, "repositoryName": self.repository},
        })["addDynamicPartition"]
        if data["__typename"] not in {"AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"}:
            raise DagsterUnavailable(f"Dagster refused to add author {slug!r}: {data.get('message', '')[:300]}")

    def _submit(self, tags: dict[str, str]) -> str:
        try:
            return self._client.submit_job_execution(
                self.job,
                repository_location_name=self.location,
                repository_name=self.repository,
                run_config={},
                tags=tags,
            )
        except DagsterGraphQLClientError as error:
            if (cause := _connection_cause(error)) is not None:
                raise self._unreachable(cause) from error
            kind = error.args[0] if error.args else "error"
            detail = error.args[1] if len(error.args) > 1 else error.body
            if kind in {"JobNotFoundError", "PipelineNotFoundError", "RepositoryLocationNotFound"}:
                raise DagsterUnavailable(
                    f"Dagster has no job {self.job!r} in code location {self.location!r}: "
                    f"check TWIN_COLLECTION_JOB / TWIN_DAGSTER_LOCATION. ({detail})"
                ) from error
            raise DagsterUnavailable(
                f"Dagster refused to launch {self.job!r}: {_short(error)}"
            ) from error

    def progress(self, run_id: str) -> RunProgress:
        data = self._execute(RUN_QUERY, {"runId": run_id})["runOrError"]
        if data["__typename"] != "Run":
            raise LookupError(data.get("message") or f"No run {run_id}")
        steps = data.get("stepStats") or []
        materializations = data.get("assetMaterializations") or []
        progress = RunProgress(
            run_id=data["runId"],
            status=data["status"],
            url=self.run_url(data["runId"]),
            counts=collection_counts(materializations),
            steps_done=sum(1 for step in steps if step["status"] == "SUCCESS"),
            steps_total=len(steps),
            started_at=_iso(data.get("startTime")),
            ended_at=_iso(data.get("endTime")),
            failures=collection_failures(materializations),
        )
        if progress.status == "SUCCESS" and data.get("startTime"):
            progress.follow_on = self.follow_on(float(data["startTime"]))
        return progress

    def _runs(self, run_filter: dict, limit: int) -> list[dict]:
        data = self._execute(RUNS_QUERY, {"filter": run_filter, "limit": limit})["runsOrError"]
        if data["__typename"] != "Runs":
            raise DagsterUnavailable(f"Dagster could not list runs: {data.get('message', '')[:300]}")
        return data["results"]

    def active_run(self) -> str | None:
        """The collection run Dagster has queued or running, if any."""
        runs = self._runs({"pipelineName": self.job, "statuses": ACTIVE_STATUSES}, 1)
        return runs[0]["runId"] if runs else None

    def current_run(self) -> str | None:
        """The run the page should show: the active collection, else the last one."""
        active = self.active_run()
        if active is not None:
            return active
        runs = self._runs({"pipelineName": self.job}, 1)
        return runs[0]["runId"] if runs else None

    def follow_on(self, since: float) -> list[FollowOnRun]:
        """The first run of each downstream job created after ``since`` (sensors start them when
        the collection changed something; none means nothing changed yet or sensors are off)."""
        runs = self._runs({"createdAfter": since}, 50)
        listed = []
        for job, label in FOLLOW_ON_JOBS:
            mine = [r for r in runs if r["pipelineName"] == job]
            entry = FollowOnRun(job, label)
            if mine:
                first = min(mine, key=lambda r: r.get("creationTime") or 0)
                entry.run_id, entry.status = first["runId"], first["status"]
                entry.url = self.run_url(first["runId"])
                if job == "continuous_training_job":
                    entry.gate = self.gate(first["runId"])
            listed.append(entry)
        return listed

    def gate(self, run_id: str) -> str | None:
        path, check = GATE
        executions = self._execute(CHECK_EXECUTIONS_QUERY, {"path": list(path), "check": check})
        for execution in executions.get("assetCheckExecutions") or []:
            if execution["runId"] == run_id:
                return GATE_WORDS.get(execution["status"], execution["status"].lower())
        return None

    def last_collection(self) -> str | None:
        """When the summary asset was last materialized (ISO, UTC), or None if never."""
        data = self._execute(LAST_MATERIALIZATION_QUERY, {"path": [SUMMARY_ASSET]})["assetOrError"]
        if data["__typename"] != "Asset" or not data["assetMaterializations"]:
            return None
        # GraphQL returns milliseconds as a string.
        return _iso(float(data["assetMaterializations"][0]["timestamp"]) / 1000)
