"""Runs of the per-author pipeline from the command line: the authors partition set brought in
step with ``twin.yaml`` first, then one run per author (the only author, when there is one, so
``twin demo`` and ``twin collect`` need no partition flags)."""

from __future__ import annotations

from twin_cli.commands import CommandError


def authors_to_run(instance, settings, only: str | None = None) -> list[str]:
    """The slugs to run, after syncing the partitions with the profiles; ``only``: that author."""
    from twin_assets.authors import sync_author_partitions
    from twin_core.authors import AuthorNotFound, find_author, profile_slugs
    from twin_core.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles(settings.profiles)
    except ProfileError as error:
        raise CommandError(f"{error}: fix twin.yaml (or set TWIN_PROFILES) and run again") from None
    if not profiles.authors:
        raise CommandError(f"{settings.profiles} names no author: add one under `authors:` and run again")
    sync_author_partitions(instance, profiles)
    if only is None:
        return profile_slugs(profiles)
    try:
        find_author(profiles, only)
    except AuthorNotFound as error:
        raise CommandError(str(error)) from None
    return [only]
