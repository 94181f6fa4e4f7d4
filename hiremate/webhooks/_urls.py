"""Which URLs HireMate calls, and calling one (no server-side request forgery).

An endpoint's URL is checked when it is registered and again before every
try, because what a name resolves to can change:

* http or https only, at most ``MAX_URL_LENGTH`` characters, a host, no
  user name or password in it, no fragment;
* https, except ``http://127.0.0.1``, ``http://localhost`` and
  ``http://[::1]`` (any port) for a receiver on this machine;
* every address the host resolves to must be a public one: private,
  loopback, link-local (169.254.0.0/16 with the clouds' metadata service,
  fe80::/10), unique-local, shared (100.64.0.0/10), multicast, unspecified
  and reserved addresses are refused, IPv4-mapped IPv6 addresses as the IPv4
  address they carry, numeric forms (``2130706433``, ``0x7f.1``) as what they
  resolve to. The three local receivers above are the only way to reach a
  loopback address, and only by those names.

``HIREMATE_WEBHOOK_ALLOW_PRIVATE=true`` lifts the address rule (and lets
http go to a private address, never to a public one): for receivers inside
the operator's own network.

A try connects to the address that was checked (never resolving again),
keeping the URL's host in the Host header and as the TLS server name (the
certificate is verified against it), and follows no redirect.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from hiremate.errors import WebhookTargetRefused

MAX_URL_LENGTH = 2048
LOCAL_RECEIVERS = frozenset({"127.0.0.1", "localhost", "::1"})
TIMEOUT_SECONDS = 10.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect and what to ask for."""

    scheme: str
    host: str  # as in the URL (the Host header and the TLS server name)
    port: int
    path: str  # with the query
    addresses: tuple[str, ...]  # checked, in the resolver's order


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> Target:
    """The checked target of ``url``, or WebhookTargetRefused saying why not.

    ``resolve=False`` checks only what the URL says (no DNS)."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookTargetRefused("give the endpoint's URL")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookTargetRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise WebhookTargetRefused("the URL has spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookTargetRefused("the URL must start with https:// (or http://127.0.0.1 for a local receiver)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookTargetRefused("put no user name or password in the URL (the signature authenticates HireMate)")
    if parts.fragment:
        raise WebhookTargetRefused("the URL must not have a #fragment")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise WebhookTargetRefused("the URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise WebhookTargetRefused("the URL's port is not a number from 1 to 65535") from None
    if port is None:
        port = 443 if scheme == "https" else 80
    elif port == 0:
        raise WebhookTargetRefused("the URL's port is not a number from 1 to 65535")
    local = host in LOCAL_RECEIVERS
    if scheme == "http" and not local and not allow_private:
        raise WebhookTargetRefused(
            "the URL must use https (http only for a receiver on this machine: http://127.0.0.1, "
            "http://localhost or http://[::1])"
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not resolve:
        return Target(scheme, host, port, path, ())
    addresses = _resolve(host, port)
    for text in addresses:
        address = _unmapped(ipaddress.ip_address(text))
        if local:
            if not address.is_loopback:
                raise WebhookTargetRefused(f"{host} does not resolve to this machine here")
        elif allow_private:
            if scheme == "http" and _is_public(address):
                raise WebhookTargetRefused("the URL must use https to reach a public address")
        elif not _is_public(address):
            raise WebhookTargetRefused(
                f"{host} is or resolves to a private, loopback, link-local or reserved address "
                "(HIREMATE_WEBHOOK_ALLOW_PRIVATE allows those)"
            )
    return Target(scheme, host, port, path, tuple(addresses))


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise WebhookTargetRefused(f"{host} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not addresses:
        raise WebhookTargetRefused(f"{host} does not resolve")
    return addresses


def _unmapped(address: IPAddress) -> IPAddress:
    """An IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64 well-known) judged as that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in ipaddress.IPv6Network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _is_public(address: IPAddress) -> bool:
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


# ---------------------------------------------------------------- one request


@dataclass(frozen=True)
class Answer:
    status: int
    location: str | None  # a redirect's target, never followed


def send(
    target: Target, method: str, headers: dict[str, str], body: bytes, *, timeout: float = TIMEOUT_SECONDS
) -> Answer:
    """One request to the first checked address that accepts a connection, over in
    ``timeout`` seconds at most in all (a receiver that drips its answer a byte at a
    time is cut off too); raises OSError (and ssl / http.client errors) otherwise.
    Only the status line and headers are read."""
    last: Exception | None = None
    for address in target.addresses:
        connection = _pinned(target, address, timeout)
        cut = threading.Event()
        deadline = threading.Timer(timeout, _cut, args=(connection, cut))
        deadline.start()
        try:
            connection.request(method, target.path, body=body, headers={"Host": _host_header(target), **headers})
            response = connection.getresponse()
            return Answer(response.status, response.getheader("Location"))
        except ConnectionRefusedError as exc:  # try the next address
            last = exc
        except (OSError, http.client.HTTPException):
            if cut.is_set():
                raise TimeoutError(f"no complete answer within {timeout:g} s") from None
            raise
        finally:
            deadline.cancel()
            connection.close()
    raise last or OSError("no address to connect to")


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    """The deadline: shut the socket, so a blocked read returns at once."""
    cut.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _pinned(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to ``address`` that otherwise behaves as one to the URL's host
    (Host header, TLS server name and certificate check)."""

    def connect(_where: tuple[str, int], timeout: float = timeout, source: object = None) -> socket.socket:
        return socket.create_connection((address, target.port), timeout)

    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    connection._create_connection = connect  # type: ignore[attr-defined]
    # http.client adds its own Host header unless told not to; ours is the URL's.
    original = connection.putrequest

    def putrequest(method: str, url: str, skip_host: bool = False, skip_accept_encoding: bool = False) -> None:
        original(method, url, skip_host=True, skip_accept_encoding=skip_accept_encoding)

    connection.putrequest = putrequest  # type: ignore[method-assign]
    return connection
