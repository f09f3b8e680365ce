"""SSRF guard for user-supplied webhook URLs (security.md SSRF-1 … SSRF-5).

Why it works the way it does:

* Decisions are made on the **resolved** addresses with ``ipaddress``, never on the URL string, so decimal, hex,
  octal and shortened spellings of 127.0.0.1 (``2130706433``, ``0x7f000001``, ``127.1``) are caught exactly like
  the dotted form: ``getaddrinfo`` turns them into the same address.
* The name is resolved **once**; every answer must pass (one bad answer rejects the whole answer), and the first
  answer is returned as ``Destination.address`` for the transport to connect to. Connecting to the pinned address
  instead of resolving again defeats DNS rebinding (SSRF-3).
* Failures close the door: an unresolvable name or an empty answer is rejected (GitLab H1 #632101 was an SSRF
  because a resolution error skipped the check).
* The test-only allowlist holds exact ``ip:port`` pairs; one entry opens that address on that port and nothing
  else (GitLab H1 #1055816 opened every local address when one was allowed).

Nothing here opens a socket: ``check_url`` only parses and resolves. Call it when an endpoint is saved *and*
before every delivery attempt (SSRF-4), and hand the returned ``Destination`` to ``transport.post``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "BlockedDestination",
    "Destination",
    "Resolver",
    "check_url",
    "getaddrinfo_resolver",
    "is_blocked_address",
]

Resolver = Callable[[str, int], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}

# Ranges blocked on top of ``not is_global``: Python's view of "global" differs between patch releases
# (e.g. 192.0.0.9 and 192.0.0.10 became global in 3.11.10), and multicast counts as global. Listing them makes
# the policy independent of the interpreter version.
_EXTRA_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches localhost on Linux
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. 255.255.255.255 broadcast
    )
)
_EXTRA_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "fec0::/10",  # deprecated site-local; Python calls it global
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are an IPv4 address

_HOSTNAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_.])?")


class BlockedDestination(ValueError):
    """The URL must not be called. ``reason`` is a short stable code for logs, metrics and API errors."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Destination:
    """A URL that passed the checks, with the address the transport must connect to.

    ``host`` (no brackets for IPv6) goes into the Host header and TLS SNI/certificate check; ``address`` is
    where the TCP connection goes. Keeping both is what makes the pin work without breaking TLS.
    """

    url: str
    scheme: str
    host: str
    port: int
    target: str
    address: str


def _v4_blocked(addr: ipaddress.IPv4Address) -> bool:
    return (
        not addr.is_global
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or any(addr in net for net in _EXTRA_BLOCKED_V4)
    )


def _embedded_v4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses that traffic to ``addr`` may end up at through 6to4 or Teredo."""
    found: list[ipaddress.IPv4Address] = []
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)  # (server, client): check both
    return found


def _blocked(addr: IPAddress) -> bool:
    if isinstance(addr, ipaddress.IPv4Address):
        return _v4_blocked(addr)
    # IPv4-mapped and NAT64 addresses are only a wrapper: the packet goes to the IPv4 address inside, so that
    # address alone decides (a DNS64 network answers with 64:ff9b::a.b.c.d for IPv4-only public receivers).
    mapped = addr.ipv4_mapped
    if mapped is not None:
        return _v4_blocked(mapped)
    if addr in _NAT64:
        return _v4_blocked(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    if (
        not addr.is_global
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or addr.is_site_local
        or any(addr in net for net in _EXTRA_BLOCKED_V6)
    ):
        return True
    return any(_v4_blocked(inner) for inner in _embedded_v4(addr))


def _parse_ip(ip: str) -> IPAddress:
    return ipaddress.ip_address(ip)


def is_blocked_address(ip: str) -> bool:
    """True if a webhook must not be sent to ``ip`` (SSRF-2). Unparseable input is blocked (fail closed).

    Blocked: everything not globally routable (loopback, private, link-local incl. 169.254.169.254, CGNAT,
    unique-local, documentation ranges …), multicast, reserved, unspecified, 192.0.0.0/24, 198.18.0.0/15,
    site-local, and IPv6 addresses that carry a blocked IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64).
    """
    try:
        addr = _parse_ip(ip)
    except ValueError:
        return True
    return _blocked(addr)


def getaddrinfo_resolver(host: str, port: int) -> list[str]:
    """All A/AAAA answers for ``host`` from the system resolver, in its preference order, deduplicated.

    ``getaddrinfo`` also turns legacy numeric spellings (``2130706433``, ``0x7f.1``) into addresses, which is
    why literal IPs go through it too.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _parse_allowlist(entries: Iterable[str]) -> frozenset[tuple[IPAddress, int]]:
    """Parse exact ``ip:port`` / ``[v6]:port`` entries. A malformed entry is a configuration error."""
    parsed: set[tuple[IPAddress, int]] = set()
    for entry in entries:
        text = entry.strip()
        if text.startswith("["):
            ip_text, sep, port_text = text[1:].partition("]:")
        else:
            ip_text, sep, port_text = text.rpartition(":")
            if ":" in ip_text:
                sep = ""  # bare IPv6 without brackets: ambiguous, refuse
        try:
            if not sep or not port_text.isdigit():
                raise ValueError
            port = int(port_text)
            if not 0 < port < 65536:
                raise ValueError
            parsed.add((_parse_ip(ip_text), port))
        except ValueError:
            raise ValueError(
                f"invalid allowed_private entry {entry!r}: expected exact 'ip:port' or '[ipv6]:port'"
            ) from None
    return frozenset(parsed)


def _split(url: str, schemes: frozenset[str]) -> tuple[str, str, int, str]:
    """Parse and syntax-check ``url``; return (scheme, host, port, target)."""
    if not isinstance(url, str) or not url:
        raise BlockedDestination("invalid_url", "URL must be a non-empty string")
    if not url.isascii():
        raise BlockedDestination("invalid_url", "URL must be ASCII (use punycode for international domain names)")
    # Parsers disagree on whitespace, control characters and backslashes; the disagreement is the attack.
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in url):
        raise BlockedDestination("invalid_url", "URL contains whitespace, control characters or backslashes")
    if "#" in url:
        raise BlockedDestination("fragment_not_allowed", "URL must not contain a fragment ('#')")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise BlockedDestination("invalid_url", f"URL cannot be parsed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        allowed = " or ".join(sorted(schemes))
        raise BlockedDestination("scheme_not_allowed", f"scheme {scheme or '(none)'!r} not allowed; use {allowed}")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise BlockedDestination("userinfo_not_allowed", "URL must not contain user info ('user@host')")
    host = parts.hostname or ""
    if parts.netloc.startswith("["):
        try:
            literal = ipaddress.IPv6Address(host)
        except ValueError:
            raise BlockedDestination("invalid_url", "bracketed host is not an IPv6 address") from None
        if literal.scope_id is not None:
            raise BlockedDestination("invalid_url", "IPv6 zone identifiers are not allowed")
    elif not _HOSTNAME.fullmatch(host):
        raise BlockedDestination("invalid_url", "host name is missing or contains characters not allowed in host names")
    try:
        explicit_port = parts.port
    except ValueError:
        raise BlockedDestination("invalid_port", "port is not a number between 0 and 65535") from None
    port = DEFAULT_PORTS[scheme] if explicit_port is None else explicit_port
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, target


def check_url(
    url: str,
    *,
    allow_http: bool = False,
    allowed_ports: Collection[int] = (443, 8443),
    allowed_private: Collection[str] = (),
    resolver: Resolver | None = None,
) -> Destination:
    """Validate ``url`` and resolve it once; return the pinned ``Destination`` or raise ``BlockedDestination``.

    ``allow_http`` and ``allowed_private`` exist for test settings only (WH-17, SSRF-5). An ``allowed_private``
    entry such as ``"127.0.0.1:18080"`` or ``"[::1]:8080"`` admits exactly that address on exactly that port,
    even if the port is not in ``allowed_ports``. ``resolver(host, port)`` returns the address strings;
    the default is ``getaddrinfo``.
    """
    schemes = frozenset({"https", "http"} if allow_http else {"https"})
    scheme, host, port, target = _split(url, schemes)
    holes = _parse_allowlist(allowed_private)
    hole_ports = {hole_port for _, hole_port in holes}
    if port not in allowed_ports and port not in hole_ports:
        raise BlockedDestination("port_not_allowed", f"port {port} is not allowed")

    resolve = resolver or getaddrinfo_resolver
    try:
        answers = list(resolve(host, port))
    except (OSError, UnicodeError, ValueError) as exc:  # socket.gaierror is an OSError
        raise BlockedDestination("unresolvable", f"host {host!r} could not be resolved: {exc}") from None
    if not answers:
        raise BlockedDestination("unresolvable", f"host {host!r} resolved to no addresses")
    try:
        addresses = [_parse_ip(answer) for answer in answers]
    except ValueError:
        raise BlockedDestination(
            "unresolvable", f"host {host!r} resolved to something that is not an IP address"
        ) from None

    bad = [addr for addr in addresses if (addr, port) not in holes and _blocked(addr)]
    if bad:
        if len(bad) < len(addresses):
            raise BlockedDestination(
                "mixed_answer",
                f"host {host!r} resolves to public and non-public addresses ({bad[0]}); the whole answer is refused",
            )
        raise BlockedDestination("address_not_public", f"host {host!r} resolves to a non-public address ({bad[0]})")
    if port not in allowed_ports and any((addr, port) not in holes for addr in addresses):
        raise BlockedDestination("port_not_allowed", f"port {port} is only allowed for the allowlisted addresses")

    return Destination(url=url, scheme=scheme, host=host, port=port, target=target, address=str(addresses[0]))
