"""Where a webhook may be sent: an http(s) URL whose host resolves to public addresses only.

A webhook URL is a request the server makes for whoever typed it (SSRF). So the host is
resolved and *every* address it has is checked when the URL is saved and again before each
delivery, and the delivery connects to an address that was checked (``Pinned``), never to a
name resolved a second time: a DNS answer that changes between check and connect (DNS
rebinding) can't send it elsewhere. An address that embeds an IPv4 one (IPv4-mapped, NAT64,
6to4, Teredo) is judged by the IPv4 address it leads to.

    policy = TargetPolicy(resolve=system_resolver, allow_private=False, timeout_s=15)
    target = parse_target("https://hooks.example.com/podplus")    # ValueError if malformed
    pinned = await policy.pin(target)        # WebhookTargetRefused naming the rule, or
    pinned.url, pinned.host_header, pinned.sni_hostname           # what to connect to

The operator setting ``PODPLUS_WEBHOOKS_ALLOW_PRIVATE`` lets loopback, private, link-local
and CGNAT addresses through (a receiver on the same host or network); the metadata
services of cloud machines, unspecified, multicast and reserved addresses never are.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from podplus.errors import WebhookTargetRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port → the addresses it has now, as text (what ``getaddrinfo`` gives).
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_CHARS = 2048
UNRESOLVABLE = "unresolvable"
DEFAULT_PORTS = {"http": 80, "https": 443}
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


class AddressRule(StrEnum):
    """Why an address is refused: each names a kind of address a webhook may not reach."""

    METADATA = "metadata"  # a cloud machine's instance metadata service (credentials)
    UNSPECIFIED = "unspecified"  # 0.0.0.0 and ::, which reach this host on Linux
    MULTICAST = "multicast"
    RESERVED = "reserved"  # reserved, broadcast and other special-purpose ranges
    LOOPBACK = "loopback"
    LINK_LOCAL = "link_local"
    PRIVATE = "private"  # RFC 1918, unique-local IPv6 and the like
    CGNAT = "cgnat"  # 100.64.0.0/10, a carrier's (or a cloud's) shared address space

    @property
    def words(self) -> str:
        return _WORDS[self]


_WORDS = {
    AddressRule.METADATA: "a cloud metadata address",
    AddressRule.UNSPECIFIED: "an unspecified address",
    AddressRule.MULTICAST: "a multicast address",
    AddressRule.RESERVED: "a reserved address",
    AddressRule.LOOPBACK: "a loopback address",
    AddressRule.LINK_LOCAL: "a link-local address",
    AddressRule.PRIVATE: "a private address",
    AddressRule.CGNAT: "a shared (CGNAT) address",
}
# What PODPLUS_WEBHOOKS_ALLOW_PRIVATE lets through: networks an operator may own.
OPERATOR_ALLOWABLE = frozenset(
    {AddressRule.LOOPBACK, AddressRule.LINK_LOCAL, AddressRule.PRIVATE, AddressRule.CGNAT}
)
# AWS (IPv4, IPv6 and ECS), GCP and Azure IMDS share 169.254.169.254; Azure's wire server;
# Alibaba's. All but the wire server are link-local or CGNAT too, but stay refused when the
# operator allows private addresses: no receiver lives there.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "168.63.129.16",
        "100.100.100.200",
    )
)
CGNAT_NETWORK = ipaddress.ip_network("100.64.0.0/10")
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")


def classify(address: IPAddress) -> AddressRule | None:
    """The rule that refuses ``address``, or None for a public unicast address."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        return classify(embedded)
    if address in METADATA_ADDRESSES:
        return AddressRule.METADATA
    if address.is_unspecified:
        return AddressRule.UNSPECIFIED
    if address.is_loopback:
        return AddressRule.LOOPBACK
    if address.is_link_local:
        return AddressRule.LINK_LOCAL
    if address.is_multicast:
        return AddressRule.MULTICAST
    if address.version == 4 and address in CGNAT_NETWORK:
        return AddressRule.CGNAT
    if address.is_reserved:
        return AddressRule.RESERVED
    if address.is_private:
        return AddressRule.PRIVATE
    if not address.is_global:
        return AddressRule.RESERVED
    return None


def refusal(address: IPAddress, *, allow_private: bool) -> AddressRule | None:
    """The rule ``address`` breaks under this policy, or None if a webhook may go there."""
    rule = classify(address)
    if rule is None or (allow_private and rule in OPERATOR_ALLOWABLE):
        return None
    return rule


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to (mapped, NAT64, 6to4, Teredo), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_NETWORK:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address; the server is a relay
    return None


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: where it goes and what the request carries."""

    url: str
    scheme: str
    host: str  # lower case; an IPv6 literal without its brackets
    port: int

    @property
    def literal(self) -> IPAddress | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse_target(url: str) -> Target:
    """``url`` as a ``Target``; ``ValueError`` saying what is wrong with it (no field name)."""
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"must be at most {MAX_URL_CHARS} characters")
    if not _PRINTABLE_ASCII.fullmatch(url):
        raise ValueError(
            "must be printable ASCII with no spaces (punycode an international host name, "
            "percent-encode the path)"
        )
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("must be an http or https URL")
    if "@" in parts.netloc:
        # Signatures prove who sent it; a password in the URL would be shown in every list.
        raise ValueError("must not carry a user name or password")
    if parts.fragment or url.endswith("#"):
        raise ValueError("must not have a #fragment")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError("must have a valid host and port") from None
    if not host or (port is not None and not 0 < port < 65536):
        raise ValueError("must have a valid host and port")
    if "%" in host:
        raise ValueError("must not name a network interface (%)")
    return Target(url=url, scheme=parts.scheme, host=host, port=port or DEFAULT_PORTS[parts.scheme])


@dataclass(frozen=True)
class Pinned:
    """A target bound to one checked address: the URL to connect to and how to name the host."""

    target: Target
    address: IPAddress

    @property
    def url(self) -> str:
        """The target's URL with the checked address in place of its host."""
        host = f"[{self.address.compressed}]" if self.address.version == 6 else str(self.address)
        parts = urlsplit(self.target.url)
        netloc = f"{host}:{self.target.port}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def host_header(self) -> str:
        return self.target.host_header

    @property
    def sni_hostname(self) -> str | None:
        """The name TLS asks for and checks the certificate against (None for an IP URL)."""
        return None if self.target.literal is not None else self.target.host


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, in a thread (``getaddrinfo`` blocks)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class TargetPolicy:
    """Resolves a target and checks every address it has; refuses with the rule broken."""

    resolve: Resolver
    allow_private: bool
    timeout_s: float

    async def pin(self, target: Target) -> Pinned:
        """The target bound to its first address, once every address has passed."""
        addresses = await self.addresses(target)
        return Pinned(target=target, address=addresses[0])

    async def addresses(self, target: Target) -> list[IPAddress]:
        """Every address ``target``'s host has now, each allowed; else ``WebhookTargetRefused``."""
        literal = target.literal
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            found = await self._resolve(target)
        for address in found:
            rule = refusal(address, allow_private=self.allow_private)
            if rule is not None:
                where = (
                    str(address) if literal is not None else f"{target.host} resolves to {address}"
                )
                raise WebhookTargetRefused(
                    f"{where}, {rule.words}; webhooks go to public addresses only "
                    f"(rule: {rule.value}).",
                    rule=rule.value,
                )
        return found

    async def _resolve(self, target: Target) -> list[IPAddress]:
        try:
            async with asyncio.timeout(self.timeout_s):
                answers = await self.resolve(target.host, target.port)
        except (OSError, TimeoutError, UnicodeError):
            answers = []
        found: list[IPAddress] = []
        for text in answers:
            try:
                found.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                continue
        if not found:
            raise WebhookTargetRefused(
                f"no address found for {target.host} (rule: {UNRESOLVABLE}).", rule=UNRESOLVABLE
            )
        return found
