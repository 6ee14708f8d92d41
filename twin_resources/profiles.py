"""The profiles file (``twin.yaml``) as a resource, so a run can point at another file."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from twin_core.profiles import Profiles, load_profiles


class ProfilesResource(ConfigurableResource):
    path: str = Field(description="Path of twin.yaml; relative paths inside it resolve against its folder.")

    def load(self) -> Profiles:
        """Raises ``ProfileError`` with a one-line reason when the file is missing or invalid."""
        return load_profiles(self.path)
