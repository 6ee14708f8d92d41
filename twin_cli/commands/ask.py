"""``twin ask "..."``: ask the running API, print the answer as it streams, then its sources."""

from __future__ import annotations

import json
import os
import sys

from twin_cli.commands import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="Ask the twin (a running `twin serve`) from the terminal.")
    parser.add_argument("prompt", help='What to write, e.g. "Write a LinkedIn post about X in my voice".')
    parser.add_argument("--link", action="append", default=[], dest="links",
                        help="A page to use as fresh knowledge (repeat, up to 5).")
    parser.add_argument("--platform", choices=["linkedin", "medium", "substack", "github"])
    parser.add_argument("--author")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--url", default=os.environ.get("TWIN_API_URL", "http://127.0.0.1:8000"),
                        help="The API's base URL (env TWIN_API_URL).")
    parser.add_argument("--json", action="store_true", help="Print the whole JSON answer instead.")
    parser.set_defaults(handler=run)


def request_body(args) -> dict:
    body = {"prompt": args.prompt, "links": args.links, "max_new_tokens": args.max_new_tokens,
            "temperature": args.temperature, "stream": not args.json}
    if args.platform:
        body["platform"] = args.platform
    if args.author:
        body["author"] = args.author
    return body


def _error_of(response) -> str:
    try:
        return response.json().get("error") or response.text
    except ValueError:
        return response.text[:300]


def print_sources(answer: dict, out=None) -> None:
    out = out or sys.stdout
    sources = answer.get("sources") or []
    print("\n\nSources:" if sources else "\n\n(no sources used)", file=out)
    for number, source in enumerate(sources, 1):
        print(f"  [{number}] {source['title'] or source['url']} — {source['url']} "
              f"(score {source['score']:.2f})", file=out)
    for warning in answer.get("warnings") or []:
        print(f"  warning: {warning}", file=out)
    print(f"model {answer.get('model_version', '?')} · trace {answer.get('trace_id', '?')}", file=out)


def run(args) -> int:
    import httpx

    headers = {}
    if key := os.environ.get("TWIN_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    url = args.url.rstrip("/") + "/v1/generate"
    body = request_body(args)
    timeout = httpx.Timeout(300.0, connect=5.0)
    try:
        if args.json:
            response = httpx.post(url, json=body, headers=headers, timeout=timeout, trust_env=False)
            if response.status_code != 200:
                raise CommandError(f"{response.status_code}: {_error_of(response)}")
            print(json.dumps(response.json(), indent=2, ensure_ascii=False))
            return 0
        with httpx.stream("POST", url, json=body, headers=headers, timeout=timeout,
                          trust_env=False) as response:
            if response.status_code != 200:
                response.read()
                raise CommandError(f"{response.status_code}: {_error_of(response)}")
            event = None
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = json.loads(line[5:])
                    if event == "token":
                        print(data["text"], end="", flush=True)
                    elif event == "done":
                        print_sources(data)
                    elif event == "error":
                        raise CommandError(f"{data.get('status')}: {data.get('error')}")
    except httpx.ConnectError:
        raise CommandError(f"no API at {args.url}: start it with `twin serve`") from None
    except httpx.HTTPError as error:
        raise CommandError(f"the API did not answer: {error}") from None
    return 0
