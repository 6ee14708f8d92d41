"""SSRF guard for links sent by API callers.

Every host (and every redirect hop, by calling the guard again) is resolved once, and any
address that is not globally routable is refused: loopback, private, link-local, multicast,
reserved, shared (CGNAT) and the cloud metadata endpoints; IPv6 forms that carry an IPv4 address
(mapped, NAT64, 6to4) are judged by that address. The guard returns the addresses it checked and
the HTTP client connects to the first of them, so a DNS answer that changes after the check
(rebinding) is never used. An explicit allowlist of host names or
networks lifts the refusal (tests and on-premise deployments use it). The operator's own
inputs (profiles, ``twin crawl URL``) do not go through this guard.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class BlockedURL(ValueError):
    """The URL may not be fetched on behalf of an API caller."""


class Unresolvable(BlockedURL):
    """The host has no address (DNS failed): the link cannot be fetched, it is not refused."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise Unresolvable(f"cannot resolve {host!r}: {error.strerror}") from error
    return [str(info[4][0]) for info in infos]


def _normalize(address: IPAddress) -> IPAddress:
    # ::ffff:127.0.0.1, 64:ff9b::7f00:1 and 2002:7f00:1:: (6to4) reach IPv4 hosts: judge the
    # IPv4 address.
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def address_refusal(address: IPAddress) -> str | None:
    """Why this address may not be reached, or None when it is a public address."""
    address = _normalize(address)
    if address in METADATA_ADDRESSES:
        return "cloud metadata address"
    for reason, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return f"{reason} address"
    if not address.is_global:
        return "non-global address"
    return None


class Allowlist:
    """Host names (exact, case-insensitive) and IP networks that may be reached anyway."""

    def __init__(self, entries: Iterable[str] = ()):
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.rstrip("."))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        address = _normalize(address)
        return any(address.version == net.version and address in net for net in self.networks)


def check_url(
    url: str, allowlist: Allowlist, resolver: Resolver = system_resolver
) -> list[str] | None:
    """Raise ``BlockedURL`` unless every address the URL's host resolves to may be reached.

    Returns the checked addresses (connect to one of these, never resolve again), or None for
    an allowlisted host name, which is trusted by name."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedURL(f"only http and https links are accepted, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise BlockedURL("link has no host")
    if parts.username or parts.password:
        raise BlockedURL("links with credentials are refused")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise BlockedURL(f"bad port in {url!r}") from error
    if allowlist.allows_host(host):
        return None
    try:
        literal = ipaddress.ip_address(host)
        addresses = [str(literal)]
    except ValueError:
        addresses = resolver(host, port)
    if not addresses:
        raise BlockedURL(f"{host!r} resolves to no address")
    checked = []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        checked.append(str(address))
        if allowlist.allows_address(address):
            continue
        reason = address_refusal(address)
        if reason:
            raise BlockedURL(f"{host!r} resolves to {address}, a {reason}")
    return checked


def make_url_guard(
    allowlist_entries: Iterable[str] = (), resolver: Resolver = system_resolver
) -> Callable[[str], list[str] | None]:
    """A ``url_guard`` for the crawler HTTP client: called before every request and hop."""
    allowlist = Allowlist(allowlist_entries)

    def guard(url: str) -> list[str] | None:
        return check_url(url, allowlist, resolver)

    return guard
