"""Settings the web page needs beyond the API's own: where Dagster is and what to launch.

``TWIN_PROFILES`` is the pipeline's own setting, so the page edits the ``twin.yaml`` runs read.
The login key is the API's (``TWIN_API_KEY`` in the app's settings).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    profiles: Path = Field(Path("twin.yaml"), description="The profile file the page edits.")
    dagster_url: str = Field(
        "http://127.0.0.1:3000",
        description="Base URL of the Dagster webserver (GraphQL at /graphql, runs at /runs/<id>).",
    )
    dagster_location: str = Field("llm_twin", description="Code location holding the job.")
    dagster_repository: str = Field("__repository__", description="Repository inside it.")
    collection_job: str = Field("collection_job", description="The job the page launches.")
    dagster_timeout_s: int = Field(10, ge=1, le=300, description="Per GraphQL request.")
    session_hours: int = Field(12, ge=1, le=24 * 30, description="Lifetime of a page login.")


@lru_cache(maxsize=1)
def get_web_settings() -> WebSettings:
    return WebSettings()
