"""Which webhook URLs Steady may call. Framework-free: no Django here.

A webhook URL is typed by someone outside the foundation and then fetched by our workers, from
inside our network. Unchecked, that is a server-side request forgery: a subscriber could point
us at the cloud metadata service, the database, the broker or an admin page on a private
address. `check_webhook_url` refuses every address that is not public unicast, and returns the
addresses it checked so that the sender connects to exactly those and never resolves the name
again (a second resolution is what DNS rebinding exploits).
"""

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED_V4 = ipaddress.ip_network("100.64.0.0/10")
_RFC1918_V4 = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_ULA_V6 = ipaddress.ip_network("fc00::/7")
_NAT64_V6 = ipaddress.ip_network("64:ff9b::/96")
_COMPAT_V6 = ipaddress.ip_network("::/96")
# Special-purpose blocks newer than the ipaddress module of Python 3.11.
_LATER_SPECIAL_V6 = (ipaddress.ip_network("3fff::/20"),)  # documentation, RFC 9637
_METADATA_V4 = ipaddress.ip_address("169.254.169.254")
_BRACKETED_NETLOC = re.compile(r"\[[0-9A-Fa-f:.]+\](?::[0-9]*)?")
# Every printable ASCII character except space stays as typed; anything else is percent-encoded
# so http.client can put the target on the request line.
_SAFE_TARGET_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))


class WebhookURLRefused(ValueError):
    """The URL may not receive webhooks. The message says why and what would be accepted."""


class WebhookHostUnresolvable(WebhookURLRefused):
    """The host name did not resolve. Refused at registration; at send time only a reason to
    try again later, since resolvers fail transiently."""


@dataclass(frozen=True)
class CheckedURL:
    """A webhook URL that passed `check_webhook_url`, with the addresses that were checked.

    `host` is the name for SNI, certificate verification and the Host header (IDNA, lower
    case, without brackets for IPv6); `addresses` are the only places a sender may connect to.
    """

    scheme: str
    host: str
    port: int
    target: str
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 443 else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"


Resolver = Callable[..., list]


def check_webhook_url(
    url: str,
    *,
    allow_loopback: bool = False,
    resolve: Resolver = socket.getaddrinfo,
) -> CheckedURL:
    """Parse `url`, resolve its host and return what a sender may connect to.

    Refuses (WebhookURLRefused, message for a person): anything but https, more than
    MAX_URL_LENGTH characters, whitespace or control characters, a user name or password, no
    host, a port outside 1-65535, a host that does not resolve (WebhookHostUnresolvable), and a
    host of which ANY resolved address is not public unicast. With `allow_loopback` (tests
    only), loopback addresses, and nothing else internal, are allowed.
    """
    if not isinstance(url, str) or not url.strip():
        raise WebhookURLRefused(
            "Enter the https URL that should receive webhooks, e.g. https://hooks.example.org/steady."
        )
    if len(url) > MAX_URL_LENGTH:
        raise WebhookURLRefused(
            f"The webhook URL is {len(url):,} characters long; the limit is {MAX_URL_LENGTH:,}."
        )
    # SECURITY: urlsplit silently drops tabs and newlines and strips leading control characters,
    # so what it parses would differ from what was typed and shown back to the subscriber.
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise WebhookURLRefused(
            "The webhook URL contains spaces or control characters; percent-encode them "
            "(a space is %20)."
        )
    if "\\" in url:
        raise WebhookURLRefused(
            "The webhook URL contains a backslash; use forward slashes, or %5C inside the path."
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise WebhookURLRefused(f"The webhook URL could not be read: {exc}.") from None
    if parts.scheme != "https":
        shown = parts.scheme or "no scheme"
        raise WebhookURLRefused(
            f"Webhook URLs must start with https:// (this one has {shown}); deliveries are "
            "only sent over TLS."
        )
    # SECURITY: userinfo is refused outright rather than stripped: "https://good.example@evil/"
    # is a classic way to make a URL look like it goes somewhere it does not.
    if "@" in parts.netloc:
        raise WebhookURLRefused(
            "The webhook URL contains a user name or password (the part before “@”); remove "
            "it. Deliveries are authenticated by their signature instead."
        )
    host = _host_of(parts)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        port = 443
    if not 1 <= port <= 65535:
        raise WebhookURLRefused(
            "The port in the webhook URL must be a number from 1 to 65535."
        )

    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    target = quote(target, safe=_SAFE_TARGET_CHARS)

    addresses = _resolve(host, port, resolve)
    checked: list[str] = []
    for address in addresses:
        reason = refusal_reason(address, allow_loopback=allow_loopback)
        if reason:
            where = (
                f"“{host}” is"
                if address.compressed == host
                else f"“{host}” resolves to {address.compressed},"
            )
            raise WebhookURLRefused(
                f"{where} {reason}; webhooks must reach a public address."
            )
        # A mapped address is the IPv4 address it carries; connecting to that is the same.
        shown = (
            address.ipv4_mapped if _is_v6(address) and address.ipv4_mapped else address
        )
        if shown.compressed not in checked:
            checked.append(shown.compressed)
    return CheckedURL(
        scheme="https", host=host, port=port, target=target, addresses=tuple(checked)
    )


def refusal_reason(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """None when `address` is public unicast; otherwise a phrase such as "a private address"."""
    if _is_v6(address):
        # SECURITY: these IPv6 forms carry an IPv4 address that a gateway, a relay or the
        # kernel itself will deliver to, so the IPv4 address is what must be public.
        for kind, inner in _embedded_v4(address):
            inner_reason = refusal_reason(inner)
            if inner_reason:
                return f"{kind} for {inner}, {inner_reason}"
        if address.ipv4_mapped is not None:
            return None
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address == _METADATA_V4:
        return "the link-local cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if not _is_v6(address) and address in _SHARED_V4:
        return "a shared (carrier-grade NAT) address"
    if _is_v6(address) and address in _ULA_V6:
        return "a private (unique local) address"
    if not _is_v6(address) and any(address in net for net in _RFC1918_V4):
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if _is_v6(address) and address.is_site_local:
        return "a site-local address"
    if (
        address.is_private
        or not address.is_global
        or (_is_v6(address) and any(address in net for net in _LATER_SPECIAL_V6))
    ):
        return "a special-purpose address that is not publicly routed"
    return None


def _host_of(parts) -> str:
    hostname = parts.hostname
    if not hostname:
        raise WebhookURLRefused(
            "The webhook URL has no host name, e.g. https://hooks.example.org/steady."
        )
    if "%" in hostname:
        raise WebhookURLRefused(
            "The webhook URL's host contains “%”; IPv6 zone ids and encoded host names are not "
            "accepted."
        )
    if parts.netloc.startswith("["):
        if not _BRACKETED_NETLOC.fullmatch(parts.netloc):
            raise WebhookURLRefused(
                "After the “]” of an IPv6 address only “:port” may follow, e.g. "
                "https://[2001:db8::1]:8443/steady."
            )
        try:
            return ipaddress.IPv6Address(hostname).compressed
        except ValueError:
            raise WebhookURLRefused(
                f"“{hostname}” between brackets is not an IPv6 address."
            ) from None
    try:
        ascii_host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise WebhookURLRefused(f"“{hostname}” is not a valid host name.") from None
    # A fully qualified "example.org." is the same host; TLS and Host want it without the dot.
    ascii_host = ascii_host.lower().removesuffix(".")
    if len(ascii_host) > 253 or not all(
        label and len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label)
        for label in ascii_host.split(".")
    ):
        raise WebhookURLRefused(f"“{hostname}” is not a valid host name.")
    return ascii_host


def _resolve(host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        raise WebhookHostUnresolvable(
            f"“{host}” could not be resolved ({detail}); check the host name."
        ) from None
    addresses: list[IPAddress] = []
    for info in infos:
        family, sockaddr = info[0], info[4]
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        # SECURITY: an IPv6 scope ("fe80::1%eth0") would otherwise make ip_address() fail and
        # the address slip through unclassified.
        text = str(sockaddr[0]).split("%", 1)[0]
        try:
            addresses.append(ipaddress.ip_address(text))
        except ValueError:
            raise WebhookURLRefused(
                f"“{host}” resolves to “{text}”, which is not an IP address."
            ) from None
    if not addresses:
        raise WebhookHostUnresolvable(
            f"“{host}” has no IPv4 or IPv6 address; check the host name."
        )
    return addresses


def _is_v6(address: IPAddress) -> bool:
    return address.version == 6


def _embedded_v4(
    address: ipaddress.IPv6Address,
) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address hands traffic to, each with the name of the form."""
    if address.ipv4_mapped is not None:
        return [("an IPv4-mapped address", address.ipv4_mapped)]
    if address.sixtofour is not None:
        return [("a 6to4 address", address.sixtofour)]
    if address.teredo is not None:
        server, client = address.teredo
        return [("a Teredo address", server), ("a Teredo address", client)]
    if address in _NAT64_V6:
        return [("a NAT64 address", ipaddress.IPv4Address(address.packed[-4:]))]
    if address in _COMPAT_V6 and int(address) > 1:
        return [
            ("an IPv4-compatible address", ipaddress.IPv4Address(address.packed[-4:]))
        ]
    return []
