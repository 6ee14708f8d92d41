"""Collection assets: one per platform crawls into the document warehouse; ``raw_documents`` is
the union, versioned by the content of every stored document."""

import hashlib
import json

import dagster as dg

from twin_core import collection
from twin_core.profiles import ProfileError
from twin_core.warehouse import DocumentWarehouse
from twin_resources.http import CrawlerHttpResource
from twin_resources.object_store import ObjectStoreResource
from twin_resources.profiles import ProfilesResource

GROUP = "collection"
MANIFEST_KEY = "collection/raw_documents_manifest.json"

PLATFORM_ASSETS = {
    "linkedin_posts": ("linkedin", "LinkedIn posts and articles: the data export (Shares.csv, Articles/) and public article URLs."),
    "medium_articles": ("medium", "Medium articles: profile/publication RSS feeds, the account export and single article pages."),
    "substack_posts": ("substack", "Substack posts: the account export, the archive and post APIs (RSS fallback) and post pages."),
    "github_repositories": ("github", "GitHub repositories: non-fork repos through the REST API, or local git repositories."),
    "custom_articles": ("web", "Any other article URL, by generic extraction (JSON-LD/meta and main text)."),
}


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")[:120]

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _platform_asset(name: str, platform: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name=GROUP,
        kinds={"python", platform if platform != "web" else "html"},
        description=description,
        tags={"twin/compute": "network"},
    )
    def _asset(
        context: dg.AssetExecutionContext,
        profiles: ProfilesResource,
        http: CrawlerHttpResource,
        object_store: ObjectStoreResource,
    ) -> dg.MaterializeResult:
        try:
            loaded = profiles.load()
        except ProfileError as error:
            raise dg.Failure(description=f"profile configuration error: {error}") from None
        store = object_store.open()
        with http.open(cache=store) as client:
            report = collection.collect(
                platform, loaded, client,
                github_token=http.github_token or None, github_api_url=http.github_api_url,
            )
        counts = collection.store(DocumentWarehouse(store), report.documents)
        for source, reason in report.failures:
            context.log.warning(f"{platform}: {source}: {reason}")
        preview = [[d.title or "(untitled)", d.published_at or "", d.url] for d in report.documents[:10]]
        return dg.MaterializeResult(
            metadata={
                "documents": dg.MetadataValue.int(len(report.documents) - counts.duplicates),
                "new": dg.MetadataValue.int(counts.new),
                "changed": dg.MetadataValue.int(counts.changed),
                "unchanged": dg.MetadataValue.int(counts.unchanged),
                "failed": dg.MetadataValue.int(len(report.failures)),
                "duplicates": dg.MetadataValue.int(counts.duplicates),
                "preview": dg.MetadataValue.md(_md_table(["title", "published", "url"], preview)),
                "failures": dg.MetadataValue.md(
                    _md_table(["source", "reason"], [list(f) for f in report.failures]) if report.failures else "none"
                ),
            }
        )

    return _asset


platform_assets = [_platform_asset(name, *spec) for name, spec in PLATFORM_ASSETS.items()]


def warehouse_version(versions: dict[str, str]) -> str:
    """One hash over every (id, content hash): it changes exactly when some document changes."""
    digest = hashlib.sha256()
    for doc_id in sorted(versions):
        digest.update(f"{doc_id}:{versions[doc_id]}\n".encode())
    return digest.hexdigest()[:32]


@dg.asset(
    group_name=GROUP,
    kinds={"python", "s3"},
    deps=list(PLATFORM_ASSETS),
    description=(
        "Every collected document in the warehouse (prefix documents/). Its data version is a hash "
        "of all document ids and content hashes, so downstream sensors fire only on real change."
    ),
)
def raw_documents(context: dg.AssetExecutionContext, object_store: ObjectStoreResource) -> dg.MaterializeResult:
    store = object_store.open()
    warehouse = DocumentWarehouse(store)
    documents = list(warehouse.documents())
    versions = {d.id: d.content_hash for d in documents}
    try:
        previous = json.loads(store.get_bytes(MANIFEST_KEY))["documents"]
    except Exception:  # first run, or an unreadable manifest: everything counts as new
        previous = {}
    new = [i for i in versions if i not in previous]
    changed = [i for i in versions if i in previous and previous[i] != versions[i]]
    removed = [i for i in previous if i not in versions]
    version = warehouse_version(versions)
    store.put_bytes(MANIFEST_KEY, json.dumps({"version": version, "documents": versions}, sort_keys=True).encode())
    by_platform: dict[str, int] = {}
    for document in documents:
        by_platform[document.platform] = by_platform.get(document.platform, 0) + 1
    latest = sorted(documents, key=lambda d: d.published_at or "", reverse=True)[:10]
    context.log.info(f"{len(documents)} documents, {len(new)} new, {len(changed)} changed, version {version}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "documents": dg.MetadataValue.int(len(documents)),
            "new": dg.MetadataValue.int(len(new)),
            "changed": dg.MetadataValue.int(len(changed)),
            "removed": dg.MetadataValue.int(len(removed)),
            "warehouse_version": dg.MetadataValue.text(version),
            "by_platform": dg.MetadataValue.json(by_platform),
            "warehouse": dg.MetadataValue.text(f"{store.describe()} (prefix {warehouse.prefix}/)"),
            "preview": dg.MetadataValue.md(
                _md_table(["platform", "title", "published"], [[d.platform, d.title, d.published_at or ""] for d in latest])
            ),
        },
    )


@dg.asset_check(
    asset=raw_documents,
    blocking=True,
    description="Every stored document follows the document contract (pandera schema): ids, hashes, platforms, non-empty content.",
)
def raw_documents_schema(object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    from twin_core.document_schema import validate

    documents = list(DocumentWarehouse(object_store.open()).documents())
    problems = validate(documents)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "documents": dg.MetadataValue.int(len(documents)),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
        },
    )
