"""``twin crawl URL``: print the document(s) extracted from one link as JSON; store nothing."""

from __future__ import annotations

import json
import os
import sys

from twin_cli.commands import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "crawl",
        help="Extract the document(s) behind a URL and print them as JSON (stores nothing).",
    )
    parser.add_argument(
        "url", help="A Medium, Substack, LinkedIn article, GitHub or any article URL."
    )
    parser.add_argument(
        "--author", default=None, help="Author name to record (default: the page's byline)."
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="Seconds the whole crawl may take (every request, retry and body included).",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="Retries on 429/5xx/connection errors."
    )
    parser.add_argument("--ignore-robots", action="store_true", help="Do not consult robots.txt.")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from twin_core.crawlers import ExtractionError, FetchError, crawl_url
    from twin_core.http_fetch import HttpFetcher
    from twin_core.profiles import check_url

    try:
        check_url(args.url)
    except ValueError as error:
        raise CommandError(str(error)) from None
    if args.timeout <= 0:
        raise CommandError("--timeout must be a positive number of seconds")
    with HttpFetcher(
        timeout_s=min(20.0, args.timeout),
        max_retries=args.retries,
        respect_robots=not args.ignore_robots,
    ) as client:
        try:
            with client.within(args.timeout):
                documents = crawl_url(
                    args.url,
                    client,
                    author=args.author,
                    github_token=os.environ.get("GITHUB_TOKEN"),
                )
        except (FetchError, ExtractionError) as error:
            raise CommandError(str(error).splitlines()[0]) from None
    json.dump([d.to_dict() for d in documents], sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
