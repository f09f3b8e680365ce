"""SSRF guard for webhook URLs (security.md SSRF-1 … SSRF-7, goal G8). Loopback only; no real traffic.

Every rejection test runs with ``no_sockets``: any attempt to connect a socket fails the test, which proves the
URL is refused before a connection is even tried.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.alerts.tests.servers import RecordingServer, start_server
from monitoring.alerts.webhooks.ssrf import BlockedDestination, Destination, check_url, is_blocked_address
from monitoring.alerts.webhooks.transport import post

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V4_DECIMAL = str(int(ipaddress.IPv4Address(PUBLIC_V4)))  # "1572394766"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


class StubResolver:
    """Fixed answers for names; numeric hosts go through getaddrinfo with AI_NUMERICHOST (no DNS, no socket),
    so ``2130706433`` or ``127.1`` resolve exactly as the real resolver would."""

    def __init__(self, names: dict[str, Sequence[str] | BaseException] | None = None) -> None:
        self.names = names or {}
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host in self.names:
            answer = self.names[host]
            if isinstance(answer, BaseException):
                raise answer
            return list(answer)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        return [str(info[4][0]) for info in infos]


STUB_NAMES: dict[str, Sequence[str] | BaseException] = {
    "example.com": [PUBLIC_V4, PUBLIC_V6],
    "localhost": ["127.0.0.1", "::1"],
    "localhost.": ["127.0.0.1", "::1"],
    "metadata.google.internal": ["169.254.169.254"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "internal.corp.test": ["10.1.2.3"],
    "v6only-internal.test": ["fd12:3456::1"],
    "mixed.test": [PUBLIC_V4, "127.0.0.1"],
    "mixed-v6.test": [PUBLIC_V6, "fe80::1"],
    "empty.test": [],
    "garbage.test": ["not-an-ip"],
    "nxdomain.test": socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    "servfail.test": socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
    "timeout.test": TimeoutError("resolver timed out"),
}

# (url, expected reason, extra keyword arguments). The base settings allow http and the usual ports, so that
# address rows are refused because of the address, not the scheme or port.
HOSTILE: list[tuple[str, str, dict[str, Any]]] = [
    # loopback in every spelling
    ("http://127.0.0.1/", "address_not_public", {}),
    ("http://localhost/", "address_not_public", {}),
    ("http://localhost./", "address_not_public", {}),
    ("http://[::1]/", "address_not_public", {}),
    ("http://2130706433/", "address_not_public", {}),
    ("http://0x7f000001/", "address_not_public", {}),
    ("http://017700000001/", "address_not_public", {}),
    ("http://127.1/", "address_not_public", {}),
    ("http://0177.0.0.1/", "address_not_public", {}),
    ("http://0x7f.1/", "address_not_public", {}),
    ("http://127.0.0.1.nip.io/", "address_not_public", {}),
    ("http://0.0.0.0/", "address_not_public", {}),
    ("http://0/", "address_not_public", {}),
    ("http://[::]/", "address_not_public", {}),
    ("http://[::ffff:127.0.0.1]/", "address_not_public", {}),
    ("http://[::ffff:7f00:1]/", "address_not_public", {}),
    ("http://localhost:8080/admin", "address_not_public", {}),
    # cloud metadata
    ("http://169.254.169.254/latest/meta-data", "address_not_public", {}),
    ("https://169.254.169.254/latest/meta-data/iam/security-credentials/", "address_not_public", {}),
    ("http://metadata.google.internal/computeMetadata/v1/", "address_not_public", {}),
    ("http://[::ffff:169.254.169.254]/", "address_not_public", {}),
    ("http://[::ffff:a9fe:a9fe]/", "address_not_public", {}),
    ("http://[64:ff9b::a9fe:a9fe]/", "address_not_public", {}),
    # private, shared and special ranges
    ("http://10.0.0.1/", "address_not_public", {}),
    ("http://172.16.0.1/", "address_not_public", {}),
    ("http://172.31.255.254/", "address_not_public", {}),
    ("http://192.168.1.1/", "address_not_public", {}),
    ("http://100.64.0.1/", "address_not_public", {}),
    ("http://192.0.0.8/", "address_not_public", {}),
    ("http://198.18.0.1/", "address_not_public", {}),
    ("http://224.0.0.1/", "address_not_public", {}),
    ("http://255.255.255.255/", "address_not_public", {}),
    ("http://240.0.0.1/", "address_not_public", {}),
    ("http://internal.corp.test/", "address_not_public", {}),
    ("http://[fd00::1]/", "address_not_public", {}),
    ("http://v6only-internal.test/", "address_not_public", {}),
    ("http://[fe80::1]/", "address_not_public", {}),
    ("http://[fec0::1]/", "address_not_public", {}),
    ("http://[ff02::1]/", "address_not_public", {}),
    # IPv4 hidden in IPv6
    ("http://[2002:7f00:1::]/", "address_not_public", {}),
    ("http://[2002:a00:1::]/", "address_not_public", {}),
    ("http://[64:ff9b::7f00:1]/", "address_not_public", {}),
    ("http://[64:ff9b::a00:1]/", "address_not_public", {}),
    ("http://[2001:0:7f00:1::]/", "address_not_public", {}),  # Teredo, server 127.0.0.1
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "address_not_public", {}),  # Teredo
    # URL tricks
    ("http://example.com@127.0.0.1/", "userinfo_not_allowed", {}),
    ("http://user:pass@example.com/", "userinfo_not_allowed", {}),
    ("http://127.0.0.1#@example.com", "fragment_not_allowed", {}),
    ("http://example.com/#frag", "fragment_not_allowed", {}),
    ("http://example.com%40127.0.0.1/", "invalid_url", {}),
    ("http://example.com\\@127.0.0.1/", "invalid_url", {}),
    ("http://127.0.0.1\t/", "invalid_url", {}),
    (" http://127.0.0.1/", "invalid_url", {}),
    ("http://[fe80::1%25eth0]/", "invalid_url", {}),
    ("http://[127.0.0.1]/", "invalid_url", {}),
    ("http://exämple.com/", "invalid_url", {}),
    ("http:///etc/passwd", "invalid_url", {}),
    ("http://example.com:99999/", "invalid_port", {}),
    ("http://example.com:80a/", "invalid_port", {}),
    # schemes
    ("file:///etc/passwd", "scheme_not_allowed", {}),
    ("gopher://127.0.0.1:70/_GET%20/", "scheme_not_allowed", {}),
    ("ftp://example.com/", "scheme_not_allowed", {}),
    ("dict://127.0.0.1:11211/stats", "scheme_not_allowed", {}),
    ("ldap://example.com/", "scheme_not_allowed", {}),
    ("javascript:alert(1)", "scheme_not_allowed", {}),
    ("data:text/plain,hello", "scheme_not_allowed", {}),
    ("//example.com/hook", "scheme_not_allowed", {}),
    ("http://example.com/", "scheme_not_allowed", {"allow_http": False}),
    # ports outside the allowlist
    ("https://example.com:22/", "port_not_allowed", {}),
    ("https://example.com:6379/", "port_not_allowed", {}),
    ("https://example.com:0/", "port_not_allowed", {}),
    ("https://example.com:8080/", "port_not_allowed", {"allowed_ports": (443, 8443)}),
    ("http://example.com/", "port_not_allowed", {"allowed_ports": (443, 8443)}),
    # resolver answers
    ("https://mixed.test/", "mixed_answer", {}),
    ("https://mixed-v6.test/", "mixed_answer", {}),
    ("https://empty.test/", "unresolvable", {}),
    ("https://garbage.test/", "unresolvable", {}),
    ("https://nxdomain.test/", "unresolvable", {}),
    ("https://servfail.test/", "unresolvable", {}),
    ("https://timeout.test/", "unresolvable", {}),
]

SYNTAX_REASONS = {
    "userinfo_not_allowed",
    "fragment_not_allowed",
    "invalid_url",
    "invalid_port",
    "scheme_not_allowed",
    "port_not_allowed",
}


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Fail the test on any attempt to connect a socket (stdlib connect paths all end in these)."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"a socket connection was attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == []


def test_socket_guard_is_armed(no_sockets: list[object]) -> None:
    """The guard itself works, so "no attempt recorded" in the tests below means something."""
    with pytest.raises(AssertionError, match="socket connection"):
        socket.create_connection(("127.0.0.1", 9))
    with socket.socket() as sock, pytest.raises(AssertionError, match="socket connection"):
        sock.connect(("127.0.0.1", 9))
    assert len(no_sockets) == 2
    no_sockets.clear()


def _check(url: str, resolver: StubResolver, **overrides: Any) -> Destination:
    options: dict[str, Any] = {"allow_http": True, "allowed_ports": (80, 443, 8080, 8443), "resolver": resolver}
    options.update(overrides)
    return check_url(url, **options)


def test_hostile_table_is_big_enough() -> None:
    assert len(HOSTILE) >= 40
    assert len({url for url, _, _ in HOSTILE}) == len(HOSTILE) - 1  # http://example.com/ twice, with two settings


@pytest.mark.parametrize(("url", "reason", "overrides"), HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_urls_are_rejected_before_any_socket(
    no_sockets: list[object], url: str, reason: str, overrides: dict[str, Any]
) -> None:
    resolver = StubResolver(STUB_NAMES)
    with pytest.raises(BlockedDestination) as caught:
        _check(url, resolver, **overrides)
    assert caught.value.reason == reason, str(caught.value)
    assert str(caught.value)  # a human message for the API error
    if reason in SYNTAX_REASONS:
        assert resolver.calls == []  # refused on the URL alone, no lookup
    else:
        assert len(resolver.calls) == 1  # exactly one resolution


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0x7f000001", "017700000001", "127.1", "0177.0.0.1", "0", "[::1]"]
)
def test_default_resolver_decodes_numeric_spellings(no_sockets: list[object], host: str) -> None:
    """The production path (real getaddrinfo; numeric hosts need no DNS) sees through every spelling."""
    with pytest.raises(BlockedDestination) as caught:
        check_url(f"https://{host}/")
    assert caught.value.reason == "address_not_public"


def test_default_resolver_blocks_localhost(no_sockets: list[object]) -> None:
    with pytest.raises(BlockedDestination) as caught:
        check_url("https://localhost/")
    assert caught.value.reason in {"address_not_public", "unresolvable"}


# --- what must pass ----------------------------------------------------------------------------------------------


def test_public_name_passes_and_is_pinned(no_sockets: list[object]) -> None:
    resolver = StubResolver(STUB_NAMES)
    destination = check_url("https://Example.COM/hooks/fairlens?tenant=7", resolver=resolver)
    assert destination == Destination(
        url="https://Example.COM/hooks/fairlens?tenant=7",
        scheme="https",
        host="example.com",
        port=443,
        target="/hooks/fairlens?tenant=7",
        address=PUBLIC_V4,
    )
    assert resolver.calls == [("example.com", 443)]


@pytest.mark.parametrize(
    ("url", "host", "port", "target", "address"),
    [
        ("https://example.com", "example.com", 443, "/", PUBLIC_V4),
        ("https://example.com:8443/x", "example.com", 8443, "/x", PUBLIC_V4),
        ("https://example.com?q=1", "example.com", 443, "/?q=1", PUBLIC_V4),
        (f"https://{PUBLIC_V4}/", PUBLIC_V4, 443, "/", PUBLIC_V4),
        (f"https://[{PUBLIC_V6}]/h", PUBLIC_V6, 443, "/h", PUBLIC_V6),
        (
            f"https://{PUBLIC_V4_DECIMAL}/",
            PUBLIC_V4_DECIMAL,
            443,
            "/",
            PUBLIC_V4,
        ),  # decimal spelling of a public address
        ("https://[2002:5db8:d70e::1]/", "2002:5db8:d70e::1", 443, "/", "2002:5db8:d70e::1"),  # 6to4, public v4
        ("https://[64:ff9b::5db8:d70e]/", "64:ff9b::5db8:d70e", 443, "/", "64:ff9b::5db8:d70e"),  # NAT64, public
        ("https://[::ffff:93.184.215.14]/", "::ffff:93.184.215.14", 443, "/", "::ffff:5db8:d70e"),
    ],
)
def test_public_destinations_pass(
    no_sockets: list[object], url: str, host: str, port: int, target: str, address: str
) -> None:
    destination = check_url(url, resolver=StubResolver(STUB_NAMES))
    assert (destination.scheme, destination.host, destination.port, destination.target) == ("https", host, port, target)
    assert ipaddress.ip_address(destination.address) == ipaddress.ip_address(address)
    assert not is_blocked_address(destination.address)


def test_http_needs_explicit_permission_and_port(no_sockets: list[object]) -> None:
    resolver = StubResolver(STUB_NAMES)
    with pytest.raises(BlockedDestination, match="scheme"):
        check_url("http://example.com/", resolver=resolver)
    destination = check_url("http://example.com/", allow_http=True, allowed_ports=(80,), resolver=resolver)
    assert (destination.scheme, destination.port) == ("http", 80)


# --- DNS rebinding (SSRF-3, SSRF-4) ------------------------------------------------------------------------------


class RebindingResolver:
    """Answers ``first`` on the first lookup and ``later`` on every lookup after it."""

    def __init__(self, first: list[str], later: list[str]) -> None:
        self.first, self.later = first, later
        self.calls = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.first if self.calls == 1 else self.later


def test_rebinding_check_resolves_once_and_pins(no_sockets: list[object]) -> None:
    resolver = RebindingResolver([PUBLIC_V4], ["127.0.0.1"])
    destination = check_url("https://rebind.test/hook", resolver=resolver)
    assert destination.address == PUBLIC_V4
    assert resolver.calls == 1
    # The next attempt validates again (SSRF-4) and now sees the loopback answer.
    with pytest.raises(BlockedDestination) as caught:
        check_url("https://rebind.test/hook", resolver=resolver)
    assert caught.value.reason == "address_not_public"


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    srv, stop = start_server()
    yield srv
    stop()


def test_transport_connects_to_the_pinned_address_not_a_new_resolution(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = f"127.0.0.1:{server.port}"
    resolver = RebindingResolver(["127.0.0.1"], ["10.0.0.1"])
    destination = check_url(
        f"http://hooks.rebind.test:{server.port}/in",
        allow_http=True,
        allowed_private=[allowed],
        resolver=resolver,
    )
    assert destination.address == "127.0.0.1"

    lookups: list[object] = []
    connects: list[tuple[str, int]] = []
    real_getaddrinfo, real_create_connection = socket.getaddrinfo, socket.create_connection

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        lookups.append(host)
        assert host != "hooks.rebind.test", "transport resolved the name again"
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    def recording_connect(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connects.append(address)
        return real_create_connection(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", recording_connect)

    result = post(destination, b'{"pinned": true}', {})

    assert result.status == 200, result.error
    assert connects == [("127.0.0.1", server.port)]
    assert "hooks.rebind.test" not in lookups
    assert resolver.calls == 1  # the rebinding answer (10.0.0.1) was never asked for
    [request] = server.requests
    assert request.header("Host") == [f"hooks.rebind.test:{server.port}"]
    assert request.body == b'{"pinned": true}'


# --- the test-only allowlist (SSRF-5) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:18081/", "port_not_allowed"),
        ("http://127.0.0.2:18080/", "address_not_public"),
        ("http://10.0.0.1:18080/", "address_not_public"),
        ("http://localhost:18081/", "port_not_allowed"),
        ("http://localhost:18080/", "mixed_answer"),  # ::1 is not allowlisted, so the whole answer is refused
        ("http://[::1]:18080/", "address_not_public"),
        ("http://[::ffff:127.0.0.1]:18080/", "address_not_public"),
        ("http://example.com:18080/", "port_not_allowed"),  # the hole's port is not opened for anyone else
        ("http://mixed.test:18080/", "port_not_allowed"),
    ],
)
def test_allowlist_opens_exactly_one_address_and_port(no_sockets: list[object], url: str, reason: str) -> None:
    with pytest.raises(BlockedDestination) as caught:
        check_url(url, allow_http=True, allowed_private=["127.0.0.1:18080"], resolver=StubResolver(STUB_NAMES))
    assert caught.value.reason == reason


def test_allowlisted_address_passes(no_sockets: list[object]) -> None:
    resolver = StubResolver({"receiver.test": ["127.0.0.1"]})
    allowed = ["127.0.0.1:18080"]
    destination = check_url("http://127.0.0.1:18080/x", allow_http=True, allowed_private=allowed, resolver=resolver)
    assert (destination.address, destination.port, destination.target) == ("127.0.0.1", 18080, "/x")
    by_name = check_url("http://receiver.test:18080/x", allow_http=True, allowed_private=allowed, resolver=resolver)
    assert by_name.address == "127.0.0.1"
    assert by_name.host == "receiver.test"
    with pytest.raises(BlockedDestination, match="scheme"):
        check_url("http://127.0.0.1:18080/x", allowed_private=allowed, resolver=resolver)  # http still needs opt-in


def test_ipv6_allowlist_entry(no_sockets: list[object]) -> None:
    destination = check_url("http://[::1]:8080/", allow_http=True, allowed_private=["[::1]:8080"])
    assert destination.address == "::1"
    with pytest.raises(BlockedDestination):
        check_url("http://127.0.0.1:8080/", allow_http=True, allowed_private=["[::1]:8080"])


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.0/8:80", "::1:8080", "localhost:80", "127.0.0.1:0", "1:2:3"])
def test_malformed_allowlist_entries_are_configuration_errors(entry: str) -> None:
    with pytest.raises(ValueError, match="allowed_private") as caught:
        check_url("https://example.com/", allowed_private=[entry], resolver=StubResolver(STUB_NAMES))
    assert not isinstance(caught.value, BlockedDestination)


# --- address classifier ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "blocked"),
    [
        ("127.0.0.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("192.0.0.9", True),
        ("198.19.255.255", True),
        ("224.0.0.251", True),
        ("0.0.0.0", True),  # noqa: S104 - an address under test, nothing binds to it
        ("::", True),
        ("::1", True),
        ("fc00::1", True),
        ("fec0::1", True),
        ("ff0e::1", True),
        ("::ffff:10.0.0.1", True),
        ("2002:c0a8:101::", True),  # 6to4 of 192.168.1.1
        ("64:ff9b::c0a8:101", True),  # NAT64 of 192.168.1.1
        ("2001:0:5db8:d70e:0:0:3fff:fffe", True),  # Teredo: 2001::/32 is not global itself
        ("not-an-ip", True),
        ("", True),
        (PUBLIC_V4, False),
        ("8.8.8.8", False),
        ("1.1.1.1", False),
        (PUBLIC_V6, False),
        ("2001:4860:4860::8888", False),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::808:808", False),
        ("2002:808:808::1", False),
    ],
)
def test_is_blocked_address_known_answers(ip: str, blocked: bool) -> None:
    assert is_blocked_address(ip) is blocked


# Independent oracle: ranges written out here, embedded addresses extracted with integer arithmetic.
_M32 = 0xFFFFFFFF
_ORACLE_EXTRA_V4 = [ipaddress.ip_network(n) for n in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15")]
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def _oracle_v4(value: int) -> bool:
    addr = ipaddress.IPv4Address(value)
    return (
        not addr.is_global
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or any(addr in net for net in _ORACLE_EXTRA_V4)
    )


def _oracle(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if addr.version == 4:
        return _oracle_v4(int(addr))
    value = int(addr)
    if value >> 32 == 0xFFFF:  # ::ffff:a.b.c.d: the IPv4 address alone decides
        return _oracle_v4(value & _M32)
    if value >> 32 == 0x0064FF9B << 64:  # 64:ff9b::/96 NAT64: likewise
        return _oracle_v4(value & _M32)
    own = not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified or addr in _SITE_LOCAL
    inner: list[int] = []
    if value >> 112 == 0x2002:  # 6to4: bits 16..47
        inner.append((value >> 80) & _M32)
    if value >> 96 == 0x20010000:  # Teredo: server in bits 32..63, client = inverted last 32 bits
        inner += [(value >> 64) & _M32, ~value & _M32]
    return own or any(_oracle_v4(v4) for v4 in inner)


_v4_values = st.integers(min_value=0, max_value=_M32)
_v4_special = st.sampled_from(
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "93.184.215.0/24",
        "8.8.8.0/24",
    ]
).flatmap(lambda net: st.ip_addresses(network=net))
_v4_any = st.one_of(st.ip_addresses(v=4), _v4_special).map(int) | _v4_values
_low80 = st.integers(min_value=0, max_value=2**80 - 1)
_embedded_v6 = st.one_of(
    _v4_any.map(lambda v4: (0xFFFF << 32) | v4),  # IPv4-mapped
    st.tuples(_v4_any, _low80).map(lambda t: (0x2002 << 112) | (t[0] << 80) | t[1]),  # 6to4
    _v4_any.map(lambda v4: (0x0064FF9B << 96) | v4),  # NAT64
    st.tuples(_v4_any, _v4_any, st.integers(0, _M32)).map(  # Teredo
        lambda t: (0x20010000 << 96) | (t[0] << 64) | (t[2] << 32) | (~t[1] & _M32)
    ),
).map(ipaddress.IPv6Address)
_v6_special = st.sampled_from(
    ["::/120", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32", "2606:2800::/32", "2001::/23"]
).flatmap(lambda net: st.ip_addresses(network=net))
_any_address = st.one_of(st.ip_addresses(v=4), _v4_special, st.ip_addresses(v=6), _v6_special, _embedded_v6)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(addr=_any_address)
def test_is_blocked_address_matches_independent_oracle(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert is_blocked_address(str(addr)) == _oracle(addr)
    assert is_blocked_address(addr.exploded) == _oracle(addr)  # spelling of the address string does not matter


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(addr=st.one_of(_v4_special, _v6_special, _embedded_v6))
def test_check_url_agrees_with_classifier(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Whatever a name resolves to, check_url passes it exactly when the classifier says it is public."""
    resolver = StubResolver({"target.test": [str(addr)]})
    if is_blocked_address(str(addr)):
        with pytest.raises(BlockedDestination, match="non-public"):
            check_url("https://target.test/", resolver=resolver)
    else:
        assert check_url("https://target.test/", resolver=resolver).address == str(addr)
