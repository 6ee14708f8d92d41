"""Author profiles (``twin.yaml``): who the twin learns from and where their writing lives.

Relative paths are resolved against the yaml file's folder, so a profile file and its exports can
move together. Errors name the author and the field, because users edit this file by hand (and the
web page edits it through ``save_profiles``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PLATFORM_KEYS = ("linkedin", "medium", "substack", "github", "web")


class ProfileError(ValueError):
    """``twin.yaml`` is missing or invalid; the message says where and why."""


def check_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or " " in value:
        raise ValueError(f"malformed URL {value!r} (expected http(s)://host/...)")
    return value


def _urls(values: list[str]) -> list[str]:
    return [check_url(v) for v in values]


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def export_paths(self, base: Path) -> list[Path]:
        return [resolve_path(base, p) for p in getattr(self, "exports", [])]


class LinkedInSource(_Source):
    exports: list[str] = Field(default_factory=list, description="Data-export folders or zips.")
    articles: list[str] = Field(default_factory=list, description="Public article URLs.")

    @field_validator("articles")
    @classmethod
    def _check_urls(cls, values: list[str]) -> list[str]:
        return _urls(values)


class MediumSource(_Source):
    username: str | None = Field(None, description="Medium user name (feed: medium.com/feed/@user).")
    feeds: list[str] = Field(default_factory=list, description="Extra RSS feeds (publications).")
    exports: list[str] = Field(default_factory=list, description="Account-export zips or folders.")
    articles: list[str] = Field(default_factory=list, description="Single article URLs.")

    @field_validator("feeds", "articles")
    @classmethod
    def _check_urls(cls, values: list[str]) -> list[str]:
        return _urls(values)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lstrip("@")
        if not value or "/" in value or " " in value:
            raise ValueError(f"malformed Medium username {value!r}")
        return value

    def feed_urls(self) -> list[str]:
        own = [f"https://medium.com/feed/@{self.username}"] if self.username else []
        return own + self.feeds


class SubstackSource(_Source):
    url: str | None = Field(None, description="Publication URL (name.substack.com or a custom domain).")
    exports: list[str] = Field(default_factory=list, description="Account-export zips or folders.")
    articles: list[str] = Field(default_factory=list, description="Single post URLs.")
    crawl: bool = Field(True, description="Read the publication's archive over the network.")

    @field_validator("articles")
    @classmethod
    def _check_urls(cls, values: list[str]) -> list[str]:
        return _urls(values)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value).rstrip("/")

    @model_validator(mode="after")
    def _export_needs_url(self) -> SubstackSource:
        if self.exports and not self.url:
            raise ValueError("substack exports need the publication 'url' (posts are linked under it)")
        return self


class GitHubSource(_Source):
    user: str | None = Field(None, description="GitHub user whose non-fork repositories are read.")
    repositories: list[str] = Field(
        default_factory=list,
        description="Repository URLs (https://github.com/owner/name) or local git repository paths.",
    )
    paths: list[str] = Field(
        default_factory=list,
        description="Glob patterns of repository paths to read (e.g. 'src/*.py'); empty reads every code file.",
    )

    @field_validator("repositories")
    @classmethod
    def _repos(cls, values: list[str]) -> list[str]:
        for value in values:
            if "://" in value:
                parts = urlsplit(check_url(value))
                if parts.hostname != "github.com" or len([p for p in parts.path.split("/") if p]) < 2:
                    raise ValueError(f"malformed GitHub repository URL {value!r} (expected https://github.com/owner/name)")
        return values


class WebSource(_Source):
    articles: list[str] = Field(default_factory=list, description="Any other article URLs.")

    @field_validator("articles")
    @classmethod
    def _check_urls(cls, values: list[str]) -> list[str]:
        return _urls(values)


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="The author's name as stored on every document.")
    linkedin: LinkedInSource | None = None
    medium: MediumSource | None = None
    substack: SubstackSource | None = None
    github: GitHubSource | None = None
    web: WebSource | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_platforms(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - {"name", *PLATFORM_KEYS})
            if unknown:
                raise ValueError(
                    f"unknown platform {unknown[0]!r}; expected one of {', '.join(PLATFORM_KEYS)}"
                )
        return data


class Profiles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authors: list[Author] = Field(default_factory=list)
    # The folder relative paths are resolved against; set by load_profiles, never serialised.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Profiles:
        names = [a.name for a in self.authors]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"author {dupes[0]!r} is listed twice")
        return self

    def resolve(self, path: str) -> Path:
        return resolve_path(self.base_dir, path)

    def check_paths(self) -> None:
        """Every export and local repository path must exist (a typo must not look like 'no posts')."""
        for author in self.authors:
            for platform in ("linkedin", "medium", "substack"):
                source = getattr(author, platform)
                for raw in getattr(source, "exports", []) if source else []:
                    if not self.resolve(raw).exists():
                        raise ProfileError(f"author {author.name!r}: {platform} export {raw!r} does not exist")
            if author.github:
                for repo in author.github.repositories:
                    if "://" not in repo and not self.resolve(repo).is_dir():
                        raise ProfileError(f"author {author.name!r}: github repository folder {repo!r} does not exist")


def resolve_path(base: Path, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def _format_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_profiles(data: Any, base_dir: Path = Path(".")) -> Profiles:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProfileError("twin.yaml must be a mapping with an 'authors' list")
    try:
        profiles = Profiles.model_validate({**data, "base_dir": base_dir})
    except ValidationError as error:
        raise ProfileError(_format_error(error)) from None
    profiles.check_paths()
    return profiles


def load_profiles(path: str | os.PathLike[str]) -> Profiles:
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ProfileError(f"{path.name} is not valid YAML: {str(error).splitlines()[0]}") from None
    try:
        return parse_profiles(data, path.resolve().parent)
    except ProfileError as error:
        raise ProfileError(f"{path.name}: {error}") from None


def dump_profiles(profiles: Profiles) -> str:
    data = profiles.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data.setdefault("authors", [])
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def save_profiles(profiles: Profiles, path: str | os.PathLike[str]) -> None:
    """Validate, then replace ``path`` atomically: a crash leaves the old file or the new one."""
    parse_profiles(profiles.model_dump(mode="json"), profiles.base_dir)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dump_profiles(profiles))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
