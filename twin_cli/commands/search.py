"""``twin search "query"``: the chunks the twin would retrieve, with scores, titles and URLs."""

from __future__ import annotations

from twin_cli.commands import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser("search", help="Search the author's indexed writing (Milvus).")
    parser.add_argument("query", help="What to look for.")
    parser.add_argument("--author", help="Only this author's writing.")
    parser.add_argument("--platform", choices=["linkedin", "medium", "substack", "github", "web"])
    parser.add_argument("--category", choices=["post", "article", "repository"])
    parser.add_argument("--k", type=int, default=5, help="How many chunks (default 5).")
    parser.add_argument("--mode", choices=["dense", "hybrid"], help="dense (default) or hybrid: dense + BM25 fused with RRF.")
    parser.set_defaults(handler=run)


def format_hits(hits, width: int = 240) -> str:
    if not hits:
        return "no matching chunks"
    lines = []
    for rank, hit in enumerate(hits, 1):
        snippet = " ".join(hit.text.split())
        snippet = snippet if len(snippet) <= width else snippet[: width - 1] + "…"
        lines.append(f"{rank}. [{hit.score:.4f}] {hit.title or '(untitled)'} — {hit.author}, {hit.platform}/{hit.category}")
        lines.append(f"   {hit.url}")
        lines.append(f"   {snippet}")
    return "\n".join(lines)


def run(args) -> int:
    if not args.query.strip():
        raise CommandError("the query is empty")
    if not 1 <= args.k <= 100:
        raise CommandError("--k must be between 1 and 100")
    from twin_core.embedding import Embedder, embedder_options, model_dimension
    from twin_core.milvus_server import answers
    from twin_core.settings import Settings
    from twin_core.vector_index import VectorIndex, build_filter

    settings = Settings()
    if settings.milvus_uri.startswith("http") and not settings.milvus_token.get_secret_value() and not answers(settings.milvus_uri):
        raise CommandError(f"no Milvus answers at {settings.milvus_uri}; start one with `twin milvus start`")
    name, dimension = model_dimension(settings.embedding_model)
    index = VectorIndex.for_model(settings.milvus_uri, name, dimension, token=settings.milvus_token.get_secret_value())
    try:
        if not index.exists():
            raise CommandError(f"collection {index.collection} does not exist yet; materialize chunk_embeddings first")
        embedder = Embedder(**embedder_options(settings))
        vectors = embedder.encode_queries([args.query])
        hits = index.search(
            vectors, [args.query], k=args.k, mode=args.mode,
            filter=build_filter(author=args.author, platform=args.platform, category=args.category),
        )[0]
    finally:
        index.close()
    print(format_hits(hits))
    return 0
