"""Where a webhook may go, decided without a network: addresses, URLs, and the pinned request."""

from __future__ import annotations

import ipaddress

import pytest

from podplus.errors import WebhookTargetRefused
from podplus.security.targets import (
    AddressRule,
    TargetPolicy,
    classify,
    parse_target,
    refusal,
)


def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("8.8.8.8", None),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("127.0.0.1", AddressRule.LOOPBACK),
        ("127.255.0.9", AddressRule.LOOPBACK),
        ("::1", AddressRule.LOOPBACK),
        ("10.0.0.1", AddressRule.PRIVATE),
        ("172.16.5.4", AddressRule.PRIVATE),
        ("192.168.0.1", AddressRule.PRIVATE),
        ("fc00::1", AddressRule.PRIVATE),
        ("169.254.0.1", AddressRule.LINK_LOCAL),
        ("fe80::1", AddressRule.LINK_LOCAL),
        ("100.64.0.1", AddressRule.CGNAT),
        ("100.127.255.254", AddressRule.CGNAT),
        ("169.254.169.254", AddressRule.METADATA),
        ("fd00:ec2::254", AddressRule.METADATA),
        ("100.100.100.200", AddressRule.METADATA),
        ("0.0.0.0", AddressRule.UNSPECIFIED),
        ("::", AddressRule.UNSPECIFIED),
        ("224.0.0.251", AddressRule.MULTICAST),
        ("ff02::1", AddressRule.MULTICAST),
        ("240.0.0.1", AddressRule.RESERVED),
        ("255.255.255.255", AddressRule.RESERVED),
        ("192.0.2.1", AddressRule.PRIVATE),  # documentation: no receiver lives there
        # IPv6 forms of an IPv4 address are judged by the address they reach.
        ("::ffff:127.0.0.1", AddressRule.LOOPBACK),
        ("::ffff:169.254.169.254", AddressRule.METADATA),
        ("64:ff9b::a00:1", AddressRule.PRIVATE),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", AddressRule.LOOPBACK),  # 6to4 of 127.0.0.1
    ],
)
def test_each_address_is_judged_by_the_rule_it_breaks(text: str, rule: AddressRule | None) -> None:
    assert classify(address(text)) == rule


def test_the_operator_setting_lets_private_networks_through_but_never_metadata() -> None:
    for text in ("127.0.0.1", "10.0.0.1", "169.254.0.1", "100.64.0.1", "::1", "fc00::1"):
        assert refusal(address(text), allow_private=False) is not None
        assert refusal(address(text), allow_private=True) is None
    for text in ("169.254.169.254", "fd00:ec2::254", "0.0.0.0", "224.0.0.1", "240.0.0.1"):
        assert refusal(address(text), allow_private=True) is not None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/", "must be an http or https URL"),
        ("example.com/hook", "must be an http or https URL"),
        ("https://u:p@example.com/", "must not carry a user name or password"),
        ("https://example.com/#x", "must not have a #fragment"),
        ("https://example.com/ x", "must be printable ASCII with no spaces"),
        ("https://exämple.com/", "must be printable ASCII with no spaces"),
        ("https://example.com:0/", "must have a valid host and port"),
        ("https://example.com:http/", "must have a valid host and port"),
        ("https:///path", "must have a valid host and port"),
        ("http://[fe80::1%25eth0]/", "must not name a network interface"),
        ("https://example.com/" + "x" * 2040, "must be at most 2048 characters"),
    ],
)
def test_a_malformed_url_says_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match="^" + problem):
        parse_target(url)


async def test_a_pinned_target_connects_to_the_address_and_names_the_host() -> None:
    async def dns(host: str, port: int) -> list[str]:
        return {"hooks.example.com": ["2606:4700::1111", "8.8.8.8"]}[host]

    policy = TargetPolicy(resolve=dns, allow_private=False, timeout_s=5)
    pinned = await policy.pin(parse_target("https://Hooks.Example.com/in?x=1"))
    assert pinned.url == "https://[2606:4700::1111]:443/in?x=1"
    assert pinned.host_header == "hooks.example.com"
    assert pinned.sni_hostname == "hooks.example.com"

    on_port = await policy.pin(parse_target("http://hooks.example.com:8080"))
    assert on_port.url == "http://[2606:4700::1111]:8080"
    assert on_port.host_header == "hooks.example.com:8080"

    literal = await policy.pin(parse_target("https://8.8.8.8/"))
    assert literal.url == "https://8.8.8.8:443/" and literal.sni_hostname is None


async def test_a_resolver_that_fails_or_hangs_is_an_unresolvable_host() -> None:
    import asyncio

    async def broken(host: str, port: int) -> list[str]:
        raise OSError("no network")

    async def hung(host: str, port: int) -> list[str]:
        await asyncio.Event().wait()
        return []

    for resolver in (broken, hung):
        policy = TargetPolicy(resolve=resolver, allow_private=False, timeout_s=0.05)
        with pytest.raises(WebhookTargetRefused) as refused:
            await policy.addresses(parse_target("https://hooks.example.com/"))
        assert refused.value.rule == "unresolvable" and refused.value.field == "url"
