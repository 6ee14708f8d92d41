"""``twin authors``: the authors the platform holds data for, and forgetting one.

``list`` shows every author in the profiles or with data in the store: their slug (the Dagster
partition key and the store's folder name), documents and production twin. ``forget SLUG``
deletes an author who is no longer in the profiles: every object in their slice of the store
(documents, cleaned documents, chunks, datasets, twin versions and aliases) and their rows in
the Milvus collection. It first says what it would delete and needs ``--yes`` to do it; the
shared base model and HTTP cache stay.
"""

from __future__ import annotations

from collections import Counter

from twin_cli.commands import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser("authors", help="List the authors with data; forget a removed one.")
    sub = parser.add_subparsers(dest="authors_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="Every author in the profiles or in the store.")
    listing.set_defaults(handler=run_list)
    forget = sub.add_parser("forget", help="Delete a removed author's data (store and Milvus).")
    forget.add_argument("slug", help="The author's slug, as `twin authors list` shows it.")
    forget.add_argument("--yes", action="store_true", help="Delete; without it, only say what would go.")
    forget.set_defaults(handler=run_forget)


def _stored_slugs(store) -> set[str]:
    """Authors with documents in the warehouse (``documents/<slug>/...``)."""
    return {key.split("/")[1] for key in store.list_keys("documents/") if key.count("/") >= 3}


def _profile_slugs(settings) -> dict[str, str]:
    from twin_core.authors import author_slug
    from twin_core.profiles import ProfileError, load_profiles

    try:
        return {author_slug(a.name): a.name for a in load_profiles(settings.profiles).authors}
    except ProfileError as error:
        raise CommandError(f"{error}: fix twin.yaml (or set TWIN_PROFILES) and run again") from None


def run_list(args) -> int:
    from twin_core.authors import AuthorStore
    from twin_core.object_store import open_store
    from twin_core.registry import production_twins
    from twin_core.settings import get_settings
    from twin_core.warehouse import DocumentWarehouse

    settings = get_settings()
    store = open_store(settings)
    profiles = _profile_slugs(settings)
    twins = production_twins(store)
    slugs = sorted(set(profiles) | _stored_slugs(store))
    if not slugs:
        print("no authors yet: add one to twin.yaml (or on the web page)")
        return 0
    print(f"{'slug':<24} {'in profiles':<11} {'documents':>9}  production twin")
    for slug in slugs:
        documents = sum(1 for _ in DocumentWarehouse(AuthorStore(store, slug)).keys())  # noqa: SIM118 (object keys)
        version = twins.get(slug)
        print(f"{slug:<24} {'yes' if slug in profiles else 'no':<11} {documents:>9}  "
              f"{f'twin/{slug}/{version}' if version else '-'}")
    return 0


def run_forget(args) -> int:
    from twin_core.authors import AuthorStore, is_slug
    from twin_core.object_store import open_store
    from twin_core.settings import get_settings

    if not is_slug(args.slug):
        raise CommandError(f"{args.slug!r} is not an author slug: copy it from `twin authors list`")
    settings = get_settings()
    profiles = _profile_slugs(settings)
    if args.slug in profiles:
        raise CommandError(f"{profiles[args.slug]} is still in the profiles: remove them from twin.yaml "
                           "(or on the web page) first, then forget them")
    store = open_store(settings)
    keys = list(AuthorStore(store, args.slug).author_keys())
    names = _author_names(store, args.slug)
    rows, index = _milvus_rows(settings, names)
    if not keys and not rows:
        print(f"nothing stored for {args.slug}")
        return 0
    kinds = Counter(key.split("/")[0] for key in keys)
    print(f"{args.slug}: {len(keys)} objects in {store.describe()} "
          f"({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))}), "
          f"{rows} chunk rows in Milvus")
    if not args.yes:
        print("nothing deleted: run again with --yes to delete them")
        return 0
    for key in keys:
        store.delete(key)
    if index is not None and rows:
        from twin_core.vector_index import build_filter

        index.delete_where(build_filter(author=sorted(names)))
        index.refresh()
    if index is not None:
        index.close()
    print(f"deleted {len(keys)} objects and {rows} chunk rows of {args.slug}")
    return 0


def _author_names(store, slug: str) -> set[str]:
    """The names the author's chunks are stored under in Milvus (read from their chunks)."""
    from twin_core.authors import AuthorStore
    from twin_core.features import ChunkStore

    return {chunk.author for chunk in ChunkStore(AuthorStore(store, slug)).chunks()}


def _milvus_rows(settings, names: set[str]):
    """(rows of these authors in the collection, the open index) — (0, None) with no names."""
    if not names:
        return 0, None
    from twin_core.embedding import model_dimension
    from twin_core.milvus_server import answers
    from twin_core.vector_index import VectorIndex, build_filter

    uri = settings.milvus_uri
    if uri.startswith("http") and not settings.milvus_token.get_secret_value() and not answers(uri):
        raise CommandError(f"no Milvus answers at {uri}, so the author's chunk rows cannot be deleted: "
                           "start it with `twin milvus start` and run again")
    name, dimension = model_dimension(settings.embedding_model)
    index = VectorIndex.for_model(uri, name, dimension, token=settings.milvus_token.get_secret_value())
    if not index.exists():
        return 0, index
    return len(index.ids(build_filter(author=sorted(names)))), index
