"""check_webhook_url: what a subscriber's URL may point at.

Hostnames here resolve through `resolve=`, a stand-in DNS answering what the test says: that is
how a hostile zone (or DNS rebinding) looks to us. Numeric hosts go through the real resolver,
which parses them locally without any network traffic.
"""

import socket

import pytest

from portal.lib.netguard import (
    MAX_URL_LENGTH,
    WebhookHostUnresolvable,
    WebhookURLRefused,
    check_webhook_url,
)

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def dns(*addresses, calls=None):
    """A resolver whose every name resolves to `addresses`, in getaddrinfo's shape."""

    def resolve(host, port, *args, **kwargs):
        if calls is not None:
            calls.append((host, port))
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    return resolve


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.45.6.7", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.5", "a private address"),
        ("172.16.3.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private (unique local) address"),
        ("169.254.169.254", "the link-local cloud metadata address"),
        ("169.254.10.10", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("ff0e::1", "a multicast address"),
        ("0.0.0.0", "the unspecified address"),  # noqa: S104 (refused, never bound)
        ("::", "the unspecified address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("100.127.255.254", "a shared (carrier-grade NAT) address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.10", "not publicly routed"),
        ("198.18.0.1", "not publicly routed"),
        ("0.1.2.3", "not publicly routed"),
        ("2001:db8::1", "not publicly routed"),
        ("3fff:1::1", "not publicly routed"),
        ("2001:10::1", "not publicly routed"),
        ("100::1", "a reserved address"),
        ("fec0::1", "a site-local address"),
        (
            "::ffff:127.0.0.1",
            "an IPv4-mapped address for 127.0.0.1, a loopback address",
        ),
        ("::ffff:10.0.0.5", "an IPv4-mapped address for 10.0.0.5, a private address"),
        (
            "::ffff:169.254.169.254",
            "for 169.254.169.254, the link-local cloud metadata address",
        ),
        ("::10.0.0.5", "an IPv4-compatible address for 10.0.0.5, a private address"),
        ("2002:7f00:1::1", "a 6to4 address for 127.0.0.1, a loopback address"),
        ("2002:a9fe:a9fe::", "a 6to4 address for 169.254.169.254"),
        ("2002:c0a8:101::1", "a 6to4 address for 192.168.1.1, a private address"),
        ("64:ff9b::a00:5", "a NAT64 address for 10.0.0.5, a private address"),
        # Teredo client 10.0.0.5 is stored inverted: 0xf5ff_fffa.
        ("2001:0:4136:e378:8000:63bf:f5ff:fffa", "a Teredo address for 10.0.0.5"),
    ],
)
def test_a_hostname_resolving_to_an_internal_address_is_refused(address, reason):
    with pytest.raises(WebhookURLRefused) as refused:
        check_webhook_url("https://hooks.example.org/steady", resolve=dns(address))
    message = str(refused.value)
    assert reason in message
    assert "“hooks.example.org” resolves to" in message
    assert message.endswith("webhooks must reach a public address.")


def test_the_message_names_the_address_and_what_to_do():
    with pytest.raises(WebhookURLRefused) as refused:
        check_webhook_url("https://hooks.example.org/", resolve=dns("10.0.0.5"))
    assert str(refused.value) == (
        "“hooks.example.org” resolves to 10.0.0.5, a private address; "
        "webhooks must reach a public address."
    )


def test_one_internal_address_among_public_ones_is_enough_to_refuse():
    resolve = dns(PUBLIC_V4, PUBLIC_V6, "10.1.2.3")
    with pytest.raises(WebhookURLRefused, match="10.1.2.3, a private address"):
        check_webhook_url("https://hooks.example.org/", resolve=resolve)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0x7f000001/",
        "https://017700000001/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://10.0.0.5:8443/hook",
        "https://0/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/",
        "https://[64:ff9b::7f00:1]/",
    ],
)
def test_numeric_hosts_are_judged_by_what_they_resolve_to(url):
    with pytest.raises(WebhookURLRefused, match="webhooks must reach a public address"):
        check_webhook_url(url)


def test_decimal_ipv4_is_reported_with_the_address_it_means():
    with pytest.raises(WebhookURLRefused) as refused:
        check_webhook_url("https://2130706433/")
    assert "“2130706433” resolves to 127.0.0.1, a loopback address" in str(
        refused.value
    )


def test_loopback_is_allowed_only_when_asked_for():
    checked = check_webhook_url(
        "https://hooks.example.org:8443/x",
        allow_loopback=True,
        resolve=dns("127.0.0.1", "::1"),
    )
    assert checked.addresses == ("127.0.0.1", "::1")
    with pytest.raises(WebhookURLRefused, match="a loopback address"):
        check_webhook_url("https://hooks.example.org:8443/x", resolve=dns("127.0.0.1"))


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 (refused, never bound)
        "::ffff:127.0.0.1",
        "fd00::1",
        "100.64.0.1",
    ],
)
def test_allowing_loopback_allows_nothing_else_internal(address):
    with pytest.raises(WebhookURLRefused):
        check_webhook_url(
            "https://hooks.example.org/", allow_loopback=True, resolve=dns(address)
        )


def test_a_public_url_is_returned_with_every_checked_address():
    calls = []
    checked = check_webhook_url(
        "https://Hooks.Example.ORG:8443/in/steady?team=a&x=%2F#fragment",
        resolve=dns(PUBLIC_V4, PUBLIC_V6, PUBLIC_V4, calls=calls),
    )
    assert calls == [("hooks.example.org", 8443)]
    assert checked.scheme == "https"
    assert checked.host == "hooks.example.org"
    assert checked.port == 8443
    assert checked.target == "/in/steady?team=a&x=%2F"
    assert checked.addresses == (PUBLIC_V4, PUBLIC_V6)
    assert checked.host_header == "hooks.example.org:8443"
    assert checked.url == "https://hooks.example.org:8443/in/steady?team=a&x=%2F"


def test_default_port_and_path():
    checked = check_webhook_url("https://hooks.example.org", resolve=dns(PUBLIC_V4))
    assert (checked.port, checked.target, checked.host_header) == (
        443,
        "/",
        "hooks.example.org",
    )


def test_an_ipv4_mapped_public_address_is_connected_to_as_ipv4():
    checked = check_webhook_url(
        "https://hooks.example.org/", resolve=dns("::ffff:93.184.215.14")
    )
    assert checked.addresses == (PUBLIC_V4,)


def test_a_public_ipv6_literal_keeps_its_brackets_in_the_host_header():
    checked = check_webhook_url(f"https://[{PUBLIC_V6.upper()}]/hook")
    assert checked.host == PUBLIC_V6
    assert checked.addresses == (PUBLIC_V6,)
    assert checked.host_header == f"[{PUBLIC_V6}]"


def test_an_international_host_name_is_resolved_in_its_ascii_form():
    calls = []
    checked = check_webhook_url(
        "https://bücher.example/hook", resolve=dns(PUBLIC_V4, calls=calls)
    )
    assert checked.host == "xn--bcher-kva.example"
    assert calls == [("xn--bcher-kva.example", 443)]


def test_non_ascii_in_the_path_is_percent_encoded():
    checked = check_webhook_url(
        "https://hooks.example.org/ü?q=ß", resolve=dns(PUBLIC_V4)
    )
    assert checked.target == "/%C3%BC?q=%C3%9F"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.org/", "must start with https:// (this one has http)"),
        ("HTTP://hooks.example.org/", "must start with https://"),
        ("ftp://hooks.example.org/", "must start with https://"),
        (
            "hooks.example.org/steady",
            "must start with https:// (this one has no scheme)",
        ),
        ("//hooks.example.org/steady", "must start with https://"),
        ("javascript:alert(1)", "must start with https://"),
        ("https://user:pw@hooks.example.org/", "user name or password"),
        ("https://hooks.example.org@10.0.0.5/", "user name or password"),
        ("https://@hooks.example.org/", "user name or password"),
        ("https:///steady", "has no host name"),
        ("https://:443/steady", "has no host name"),
        ("https://hooks.example.org:0/", "from 1 to 65535"),
        ("https://hooks.example.org:65536/", "from 1 to 65535"),
        ("https://hooks.example.org:https/", "from 1 to 65535"),
        ("https://hooks.example.org:-1/", "from 1 to 65535"),
        ("https://hooks.example.org/a b", "spaces or control characters"),
        ("https://hooks.example.org/a\tb", "spaces or control characters"),
        ("https://hooks.exam\nple.org/", "spaces or control characters"),
        ("\x00https://hooks.example.org/", "spaces or control characters"),
        ("https://hooks.example.org\\@10.0.0.5/", "backslash"),
        ("https://[fe80::1%25eth0]/", "zone ids"),
        ("https://[not-v6]/", "could not be read"),
        ("https://hooks..example.org/", "not a valid host name"),
        ("https://hooks.exa$mple.org/", "not a valid host name"),
        ("", "Enter the https URL"),
        ("   ", "Enter the https URL"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(url, message):
    calls = []
    with pytest.raises(WebhookURLRefused) as refused:
        check_webhook_url(url, resolve=dns(PUBLIC_V4, calls=calls))
    assert message in str(refused.value)
    assert calls == []


def test_a_url_longer_than_the_limit_is_refused_before_anything_else():
    base = "https://hooks.example.org/"
    longest = base + "a" * (MAX_URL_LENGTH - len(base))
    assert check_webhook_url(longest, resolve=dns(PUBLIC_V4)).target.endswith("a")
    with pytest.raises(
        WebhookURLRefused, match="2,001 characters long; the limit is 2,000"
    ):
        check_webhook_url(longest + "a", resolve=dns(PUBLIC_V4))


def test_a_name_that_does_not_resolve_is_refused_as_unresolvable():
    def nxdomain(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(WebhookHostUnresolvable, match="could not be resolved"):
        check_webhook_url("https://nowhere.example.org/", resolve=nxdomain)


def test_a_resolver_answer_without_addresses_is_refused():
    with pytest.raises(WebhookHostUnresolvable, match="no IPv4 or IPv6 address"):
        check_webhook_url("https://hooks.example.org/", resolve=dns())


def test_a_fully_qualified_name_is_used_without_its_final_dot():
    calls = []
    checked = check_webhook_url(
        "https://Hooks.Example.org./x", resolve=dns(PUBLIC_V4, calls=calls)
    )
    assert checked.host == "hooks.example.org"
    assert calls == [("hooks.example.org", 443)]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"https://[{PUBLIC_V6}]junk/", "only “:port” may follow"),
        (f"https://[{PUBLIC_V6}]:/x", None),
        ("https://hooks.example.org../", "not a valid host name"),
        ("https://" + "a" * 64 + ".example.org/", "not a valid host name"),
        ("https://" + ".".join(["abcdefgh"] * 30) + "/", "not a valid host name"),
    ],
)
def test_odd_host_spellings(url, message):
    if message is None:
        assert check_webhook_url(url).addresses == (PUBLIC_V6,)
        return
    with pytest.raises(WebhookURLRefused, match=message):
        check_webhook_url(url, resolve=dns(PUBLIC_V4))
