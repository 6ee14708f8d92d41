"""Launch the collection job and follow its run through Dagster's GraphQL API.

The page never imports the Dagster code location: it talks to whichever webserver
``TWIN_DAGSTER_URL`` names, so a run started here is the same run the Dagster UI shows.
The client is synchronous (requests); the router calls it from a worker thread.
"""

from __future__ import annotations

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

RUN_QUERY = """
query TwinRunProgress($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId
      status
      startTime
      endTime
      stepStats { stepKey status }
      assetMaterializations {
        assetKey { path }
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
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
class RunProgress:
    run_id: str
    status: str
    url: str
    counts: dict[str, int] = field(default_factory=dict)
    steps_done: int = 0
    steps_total: int = 0
    started_at: str | None = None
    ended_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


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

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_url}/runs/{run_id}"

    def _unreachable(self, error: Exception) -> DagsterUnavailable:
        return DagsterUnavailable(
            f"Dagster is not reachable at {self.ui_url}. Start it with `make dev` (or set "
            f"TWIN_DAGSTER_URL to where it runs), then try again. ({type(error).__name__})"
        )

    def _execute(self, query: str, variables: dict) -> dict:
        try:
            return self._client._execute(query, variables)
        except DagsterGraphQLClientError as error:
            if (cause := _connection_cause(error)) is not None:
                raise self._unreachable(cause) from error
            raise DagsterUnavailable(f"Dagster refused the request: {_short(error)}") from error

    def launch(self, tags: dict[str, str] | None = None) -> str:
        """Submits the job and returns the new run's id."""
        try:
            return self._client.submit_job_execution(
                self.job,
                repository_location_name=self.location,
                repository_name=self.repository,
                run_config={},
                tags=tags or {},
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
        return RunProgress(
            run_id=data["runId"],
            status=data["status"],
            url=self.run_url(data["runId"]),
            counts=collection_counts(data.get("assetMaterializations") or []),
            steps_done=sum(1 for step in steps if step["status"] == "SUCCESS"),
            steps_total=len(steps),
            started_at=_iso(data.get("startTime")),
            ended_at=_iso(data.get("endTime")),
        )

    def last_collection(self) -> str | None:
        """When the summary asset was last materialized (ISO, UTC), or None if never."""
        data = self._execute(LAST_MATERIALIZATION_QUERY, {"path": [SUMMARY_ASSET]})["assetOrError"]
        if data["__typename"] != "Asset" or not data["assetMaterializations"]:
            return None
        # GraphQL returns milliseconds as a string.
        return _iso(float(data["assetMaterializations"][0]["timestamp"]) / 1000)
