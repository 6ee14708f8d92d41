"""Collection assets: one per platform crawls into the document warehouse; ``raw_documents`` is
the union, versioned by the content of every stored document."""

import hashlib
import json

import dagster as dg

from twin_assets.authors import AUTHORS, author_store, author_with_base_dir
from twin_assets.metadata import md_table
from twin_core import collection
from twin_core.warehouse import DocumentWarehouse, record_version
from twin_resources.http import CrawlerHttpResource
from twin_resources.object_store import ObjectStoreResource
from twin_resources.profiles import ProfilesResource

GROUP = "collection"
MANIFEST_KEY = "collection/raw_documents_manifest.json"

PLATFORM_ASSETS = {
    "linkedin_posts": ("linkedin", "LinkedIn posts and articles: the data export (Shares.csv, Articles/) and public article URLs."),
    "medium_articles": ("medium", "Medium articles: profile/publication RSS feeds, the account export and single article pages."),
    "substack_posts": ("substack", "Substack posts: the account export, the archive and post APIs (RSS fallback) and post pages."),
    "github_repositories": ("github", "GitHub repositories: non-fork repos through the REST API (one tarball each, within the rate budget), or local git repositories."),
    "custom_articles": ("web", "Any other article URL: metadata rules and main text by structure, trafilatura as the fallback."),
}


def _platform_asset(name: str, platform: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name=GROUP,
        kinds={"python", platform if platform != "web" else "html"},
        description=description,
        tags={"twin/compute": "network"},
        partitions_def=AUTHORS,
    )
    def _asset(
        context: dg.AssetExecutionContext,
        profiles: ProfilesResource,
        http: CrawlerHttpResource,
        object_store: ObjectStoreResource,
    ) -> dg.MaterializeResult:
        author, base_dir = author_with_base_dir(context, profiles)
        store = author_store(context, object_store)
        with http.open(cache=store) as client:
            report = collection.collect_author(
                platform, author, base_dir, client,
                github_token=http.github_token or None, github_api_url=http.github_api_url,
            )
        counts = collection.store(DocumentWarehouse(store), report.documents)
        for source, reason in report.failures:
            context.log.warning(f"{platform}: {source}: {reason}")
        preview = [[d.title or "(untitled)", d.published_at or "", d.url] for d in report.documents[:10]]
        return dg.MaterializeResult(
            metadata={
                "documents": len(report.documents) - counts.duplicates,
                "new": counts.new,
                "changed": counts.changed,
                "unchanged": counts.unchanged,
                "failed": len(report.failures),
                "duplicates": counts.duplicates,
                "superseded": counts.superseded,
                "preview": dg.MetadataValue.md(md_table(["title", "published", "url"], preview)),
                # The same failures whole, for the source check and the web page.
                "failed_sources": dg.MetadataValue.json(
                    [{"source": source, "reason": reason} for source, reason in report.failures]
                ),
                "failures": dg.MetadataValue.md(
                    md_table(["source", "reason"], [list(f) for f in report.failures]) if report.failures else "none"
                ),
            }
        )

    return _asset


platform_assets = [_platform_asset(name, *spec) for name, spec in PLATFORM_ASSETS.items()]


def warehouse_version(versions: dict[str, str]) -> str:
    """One hash over every (id, record version): it changes exactly when some document's
    content or address changes."""
    digest = hashlib.sha256()
    for doc_id in sorted(versions):
        digest.update(f"{doc_id}:{versions[doc_id]}\n".encode())
    return digest.hexdigest()[:32]


@dg.asset(
    group_name=GROUP,
    kinds={"python", "s3"},
    deps=list(PLATFORM_ASSETS),
    partitions_def=AUTHORS,
    description=(
        "Every collected document of the author in the warehouse (prefix documents/<author>/). Its "
        "data version is a hash of the author's document ids, content hashes and addresses, so "
        "automation re-runs that author's features only on real change (a moved post counts)."
    ),
)
def raw_documents(context: dg.AssetExecutionContext, object_store: ObjectStoreResource) -> dg.MaterializeResult:
    store = author_store(context, object_store)
    warehouse = DocumentWarehouse(store)
    documents = list(warehouse.documents())
    versions = {d.id: record_version(d) for d in documents}
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
            "documents": len(documents),
            "new": len(new),
            "changed": len(changed),
            "removed": len(removed),
            "warehouse_version": version,
            "by_platform": dg.MetadataValue.json(by_platform),
            "warehouse": f"{store.describe()} (prefix {store.key(warehouse.prefix)}/)",
            "preview": dg.MetadataValue.md(
                md_table(["platform", "title", "published"], [[d.platform, d.title, d.published_at or ""] for d in latest])
            ),
        },
    )


@dg.asset_check(
    asset=raw_documents,
    blocking=True,
   
    description="Every stored document follows the document contract (pandera schema): ids, hashes, platforms, non-empty content.",
)
def raw_documents_schema(context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    from twin_core.document_schema import validate

    documents = list(DocumentWarehouse(author_store(context, object_store)).documents())
    problems = validate(documents)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "documents": len(documents),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
        },
    )
