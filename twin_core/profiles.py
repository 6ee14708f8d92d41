"""Author profiles (``twin.yaml``): who the twin learns from and where their writing lives.

Relative paths are resolved against the yaml file's folder, so a profile file and its exports can
move together. Errors name the author and the field, because users edit this file by hand (and the
web page edits it through ``save_profiles``).

Local paths (exports, repository folders) must lie inside the folders profiles may read: the
profile file's own folder (uploads from the page land in its ``uploads/``) and the named roots in
``TWIN_ALLOWED_ROOTS``. Anything else (``/``, ``~``, ``..``, a symlink out) is refused with the
same answer as a path that does not exist, so the check reveals nothing about the machine.
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


def configured_roots() -> list[Path]:
    """``TWIN_ALLOWED_ROOTS``: folders outside the profile's own that exports and repositories
    may be read from."""
    from twin_core.settings import get_settings

    return list(get_settings().allowed_roots)


def is_inside(path: Path, roots: list[Path]) -> bool:
    """``path`` (symlinks followed) is one of ``roots`` or below one."""
    resolved = path.resolve()
    for root in roots:
        root = root.resolve()
        if resolved == root or root in resolved.parents:
            return True
    return False


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
    # Folders beyond base_dir that local paths may be in (TWIN_ALLOWED_ROOTS); never serialised.
    allowed_roots: list[Path] = Field(default_factory=configured_roots, exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Profiles:
        names = [a.name for a in self.authors]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"author {dupes[0]!r} is listed twice")
        return self

    def resolve(self, path: str) -> Path:
        return resolve_path(self.base_dir, path)

    def roots(self) -> list[Path]:
        return [self.base_dir, *self.allowed_roots]

    def readable(self, raw: str, *, folder: bool = False) -> bool:
        """The path exists (a folder when asked) and lies inside the allowed roots."""
        path = self.resolve(raw)
        found = path.is_dir() if folder else path.exists()
        return is_inside(path, self.roots()) and found

    def check_paths(self) -> None:
        """Every export and local repository path must exist (a typo must not look like 'no posts')
        inside the allowed roots; missing and not allowed get the same answer."""
        where = "in the profile's folder or TWIN_ALLOWED_ROOTS"
        for author in self.authors:
            for platform in ("linkedin", "medium", "substack"):
                source = getattr(author, platform)
                for raw in getattr(source, "exports", []) if source else []:
                    if not self.readable(raw):
                        raise ProfileError(f"author {author.name!r}: {platform} export {raw!r} does not exist {where}")
            if author.github:
                for repo in author.github.repositories:
                    if "://" not in repo and not self.readable(repo, folder=True):
                        raise ProfileError(
                            f"author {author.name!r}: github repository folder {repo!r} does not exist {where}"
                        )


def resolve_path(base: Path, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def _format_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_profiles(
    data: Any, base_dir: Path = Path("."), allowed_roots: list[Path] | None = None
) -> Profiles:
    """``allowed_roots``: folders beyond ``base_dir`` local paths may be in (default:
    ``TWIN_ALLOWED_ROOTS``)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProfileError("twin.yaml must be a mapping with an 'authors' list")
    extra = {"allowed_roots": allowed_roots} if allowed_roots is not None else {}
    try:
        profiles = Profiles.model_validate({**data, "base_dir": base_dir, **extra})
    except ValidationError as error:
        raise ProfileError(_format_error(error)) from None
    profiles.check_paths()
    return profiles


# libyaml's loader when PyYAML was built with it: 5x faster on a file of thousands of authors,
# which every sensor tick and asset run reads.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_profiles(path: str | os.PathLike[str], allowed_roots: list[Path] | None = None) -> Profiles:
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile file {str(path)!r} does not exist")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        raise ProfileError(f"{path.name} is not valid YAML: {str(error).splitlines()[0]}") from None
    try:
        return parse_profiles(data, path.resolve().parent, allowed_roots)
    except ProfileError as error:
        raise ProfileError(f"{path.name}: {error}") from None


def dump_profiles(profiles: Profiles) -> str:
    data = profiles.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data.setdefault("authors", [])
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def file_mode(path: Path) -> int:
    """The permission bits ``path`` has, or 0644 for a new file (reading the umask would
    change it for every thread for a moment)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o644


def save_profiles(profiles: Profiles, path: str | os.PathLike[str]) -> None:
    """Validate, then replace ``path`` atomically: a crash leaves the old file or the new one."""
    parse_profiles(profiles.model_dump(mode="json"), profiles.base_dir, profiles.allowed_roots)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode(path))  # mkstemp makes 0600; keep what the file had
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dump_profiles(profiles))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
