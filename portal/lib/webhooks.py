"""Signing and sending webhooks per Standard Webhooks 1.0 (https://www.standardwebhooks.com).

Framework-free: no Django here. Callers pass what settings would give them
(`allow_loopback=settings.WEBHOOK_ALLOW_LOOPBACK`, `ca_file=settings.WEBHOOK_CA_FILE`), so this
module stays testable alone. A delivery task, per attempt and outside any transaction:

    headers = build_headers(msg_id=<delivery's public id>, payload=<signed notice bytes>,
                            secrets=<the subscription's current secrets, newest last>)
    result = deliver(<subscription URL>, <signed notice bytes>, headers, allow_loopback=...,
                     ca_file=...)
    DELIVERED -> mark delivered; GONE -> disable the subscription;
    RETRY -> attempts += 1, then retry_delay(attempts, retry_after=result.retry_after)
             seconds later, or dead (tell the owner) when that is None;
    FAILED -> dead at once (tell the owner); `result.error` goes in the delivery log.

The wire format, which any receiver built on the `standardwebhooks` library accepts:

- `webhook-id`: the delivery's id, the same on every retry so receivers can drop duplicates;
- `webhook-timestamp`: the attempt's Unix time in seconds (a new one on every retry);
- `webhook-signature`: `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`, keyed with the
  base64-decoded `whsec_` secret; during a rotation one signature per current secret,
  space-separated, so a receiver that knows either secret accepts the delivery.

How a send ends (`Outcome`), decided from the spec's status code guidance:

- DELIVERED: a 2xx answer.
- GONE: 410; the receiver asks us to stop, so the caller disables the endpoint.
- RETRY: 3xx (redirects are never followed: a redirect to an internal address would bypass the
  address check, and the spec asks subscribers to update the URL instead), 429, 5xx, every
  other 4xx, timeouts, refused or reset connections, TLS failures and names that do not
  resolve. Other 4xx answers are retried rather than failed at once because the usual causes
  (a receiver deployed before its secret, a route not yet live) get fixed within the day, and
  a missed handover notice costs more than seven extra requests.
- FAILED: the URL no longer passes the address check at send time (for example its name now
  resolves to a private address). Retrying cannot help until the subscriber changes it, so the
  delivery is dead at once and the owner is told.

Retry schedule (`retry_delay`), after the spec's example, each delay ±20 % jitter:

    attempt 1 at once; then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h

so MAX_ATTEMPTS is 8 and the last attempt comes about 27.6 hours after the first (between 22.1
and 33.1 hours with jitter). A receiver's `Retry-After` (usually with 429 or 503) can lengthen
one delay, by at most an hour.
"""

import base64
import binascii
import enum
import functools
import hashlib
import hmac
import http.client
import io
import random
import re
import secrets as _secrets
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from portal.lib.netguard import (
    CheckedURL,
    Resolver,
    WebhookHostUnresolvable,
    WebhookURLRefused,
    check_webhook_url,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 (the marker every secret starts with, not a secret)
SECRET_BYTES = 32
# The spec: a symmetric secret is random, at least 24 bytes and at most 64.
_SECRET_MIN_BYTES, _SECRET_MAX_BYTES = 24, 64
USER_AGENT = "Steady-Webhooks/1.0"
# The spec recommends 15-30 s; the whole attempt (connect, TLS, request, answer) fits in this.
DEFAULT_TIMEOUT = 15.0
# Enough of the answer to show the subscriber why it failed; the rest is never read.
MAX_RESPONSE_BYTES = 1024
_EXCERPT_CHARS = 200

RETRY_SCHEDULE: tuple[int, ...] = (
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    10 * 3600,
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.2
MAX_RETRY_AFTER = 3600

# The spec forbids "." in the id, since it delimits the signed content; ids are ours, not
# typed by anyone, so a narrow alphabet costs nothing.
_MSG_ID = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Headers the sender owns: a caller's copy would be sent twice or contradict the connection.
_SENDER_HEADERS = frozenset(
    {"host", "connection", "content-length", "transfer-encoding"}
)


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class SendResult:
    """What one attempt did. `error` is empty on delivery, otherwise a line for the delivery
    log; `address` is where the connection went; `retry_after` is the receiver's own request
    (seconds), to pass on to `retry_delay`."""

    outcome: Outcome
    status: int | None
    error: str = ""
    address: str | None = None
    retry_after: int | None = None


def generate_secret() -> str:
    """A fresh signing secret, shown to the subscriber once."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode(
        "ascii"
    )


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret; ValueError when it is not one."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"A webhook secret starts with “{SECRET_PREFIX}”.")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("The webhook secret is not valid base64.") from None
    if not _SECRET_MIN_BYTES <= len(key) <= _SECRET_MAX_BYTES:
        raise ValueError(
            f"A webhook secret holds {_SECRET_MIN_BYTES} to {_SECRET_MAX_BYTES} bytes; "
            f"this one holds {len(key)}."
        )
    return key


def signature_header(
    secrets: Sequence[str], msg_id: str, timestamp: int, payload: bytes
) -> str:
    """The `webhook-signature` value: one `v1,<base64>` per distinct secret, space-separated."""
    if not secrets:
        raise ValueError("At least one secret is needed to sign a webhook.")
    _check_msg_id(msg_id)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp <= 0:
        raise ValueError("The webhook timestamp is a positive whole number of seconds.")
    signed = f"{msg_id}.{timestamp}.".encode() + payload
    signatures = []
    for secret in dict.fromkeys(secrets):
        digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(digest).decode("ascii"))
    return " ".join(signatures)


def build_headers(
    *,
    msg_id: str,
    payload: bytes,
    secrets: Sequence[str],
    timestamp: int | None = None,
    user_agent: str = USER_AGENT,
) -> dict[str, str]:
    """Headers for one attempt. `msg_id` is the delivery's id, stable across retries;
    `timestamp` defaults to now, as each retry is a new attempt."""
    if timestamp is None:
        timestamp = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, payload),
        "content-type": "application/json",
        "user-agent": user_agent,
    }


def deliver(
    url: str,
    payload: bytes,
    headers: Mapping[str, str],
    *,
    allow_loopback: bool = False,
    ca_file: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    resolve: Resolver = socket.getaddrinfo,
) -> SendResult:
    """Check `url` again, now, and post to the addresses that check saw. What a task calls."""
    # SECURITY: a name that was public at registration may resolve to an internal address
    # today (DNS rebinding, or an expired domain bought by someone else), so every attempt
    # checks afresh and `post` connects only to what this check returned.
    try:
        checked = check_webhook_url(url, allow_loopback=allow_loopback, resolve=resolve)
    except WebhookHostUnresolvable as exc:
        return SendResult(Outcome.RETRY, None, str(exc))
    except WebhookURLRefused as exc:
        return SendResult(Outcome.FAILED, None, str(exc))
    return post(checked, payload, headers, timeout=timeout, ca_file=ca_file)


def post(
    checked: CheckedURL,
    payload: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ca_file: str | None = None,
) -> SendResult:
    """POST `payload` once to a checked URL; never raises for anything the receiver does.

    Connects to `checked.addresses` in order (no name resolution here), speaks TLS with SNI and
    certificate verification for `checked.host` (against `ca_file` if given, else the system
    trust store), sends Host: `checked.host`, follows no redirect, reads at most
    MAX_RESPONSE_BYTES of the answer, and gives the whole attempt `timeout` seconds.
    """
    if not isinstance(payload, bytes):
        # A str body would be encoded by http.client as Latin-1, not the bytes we signed.
        raise TypeError("The webhook payload must be the exact bytes that were signed.")
    deadline = time.monotonic() + timeout
    connection = _PinnedHTTPSConnection(checked, _tls_context(ca_file), deadline)
    sent_headers = {
        k: v for k, v in headers.items() if k.lower() not in _SENDER_HEADERS
    }
    sent_headers["Host"] = checked.host_header
    sent_headers["Connection"] = "close"
    where = checked.host_header
    try:
        connection.request("POST", checked.target, body=payload, headers=sent_headers)
        response = connection.getresponse()
        status = response.status
        location = response.getheader("location", "")
        retry_after = _retry_after(response.getheader("retry-after"))
        body = b"" if 200 <= status < 300 else _read_some(response)
    except ssl.SSLCertVerificationError as exc:
        return _retry(
            f"The TLS certificate of {checked.host} was not accepted: "
            f"{(exc.verify_message or str(exc.reason)).rstrip('.')}.",
            connection,
        )
    except ssl.SSLError as exc:
        return _retry(
            f"TLS with {checked.host} failed: {exc.reason or exc}.", connection
        )
    except TimeoutError:
        return _retry(f"No answer from {where} within {timeout:g} s.", connection)
    except ConnectionRefusedError:
        return _retry(f"{where} refused the connection.", connection)
    except http.client.RemoteDisconnected:
        return _retry(f"{where} closed the connection without answering.", connection)
    except http.client.HTTPException as exc:
        return _retry(
            f"The answer from {where} was not valid HTTP ({type(exc).__name__}).",
            connection,
        )
    except OSError as exc:
        return _retry(f"Could not reach {where}: {exc.strerror or exc}.", connection)
    finally:
        connection.close()

    address = connection.address
    if 200 <= status < 300:
        return SendResult(Outcome.DELIVERED, status, "", address)
    excerpt = _excerpt(body)
    detail = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if status == 410:
        return SendResult(
            Outcome.GONE,
            status,
            f"{detail} (the receiver asked for no more webhooks)",
            address,
        )
    if 300 <= status < 400:
        moved = f" to {_excerpt(location.encode())}" if location else ""
        return SendResult(
            Outcome.RETRY,
            status,
            f"HTTP {status} redirect{moved} not followed; update the webhook URL instead.",
            address,
        )
    return SendResult(Outcome.RETRY, status, detail, address, retry_after)


def retry_delay(
    attempt: int, rng: random.Random = random, *, retry_after: int | None = None
) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1 is the first), or None when
    that was the last attempt (MAX_ATTEMPTS) and the delivery is dead.

    `rng` is for the jitter; it needs no cryptographic strength, only spread, so that
    receivers coming back after an outage are not hit by every retry at the same second.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError("Attempts are counted from 1.")
    if attempt >= MAX_ATTEMPTS:
        return None
    delay = RETRY_SCHEDULE[attempt - 1] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after:
        delay = max(delay, float(min(retry_after, MAX_RETRY_AFTER)))
    return delay


def _check_msg_id(msg_id: str) -> None:
    if not isinstance(msg_id, str) or not _MSG_ID.fullmatch(msg_id):
        raise ValueError(
            "A webhook id is 1-256 letters, digits, “-” or “_” (the spec forbids “.”)."
        )


def _retry(error: str, connection: "_PinnedHTTPSConnection") -> SendResult:
    return SendResult(Outcome.RETRY, None, error, connection.address)


def _read_some(response: http.client.HTTPResponse) -> bytes:
    # The status decides the outcome; a body that breaks off or stalls only shortens the
    # excerpt, it must not turn an answered attempt into a network error.
    try:
        return response.read(MAX_RESPONSE_BYTES)
    except (OSError, http.client.HTTPException):
        return b""


def _excerpt(body: bytes) -> str:
    # The receiver controls these bytes; keep printable text only, short, on one line.
    text = body.decode("utf-8", errors="replace")
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"


def _retry_after(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    seconds = int(when.timestamp() - time.time())
    return min(seconds, MAX_RETRY_AFTER) if seconds > 0 else None


@functools.lru_cache(maxsize=8)
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    # Building a context reads the trust store; one per CA file serves every delivery.
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class _PinnedHTTPSConnection(http.client.HTTPConnection):
    """HTTPS to the checked addresses only, with SNI and verification for the checked name."""

    default_port = 443

    def __init__(self, checked: CheckedURL, context: ssl.SSLContext, deadline: float):
        super().__init__(checked.host, checked.port)
        self._checked = checked
        self._context = context
        self._deadline = deadline
        self.address: str | None = None

    def connect(self) -> None:
        raw = None
        error: OSError | None = None
        addresses = self._checked.addresses
        for index, address in enumerate(addresses):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            try:
                candidate = socket.socket(family, socket.SOCK_STREAM)
            except OSError as exc:  # e.g. IPv6 switched off on this host
                error = exc
                continue
            try:
                # One silent address must not use up the time the others need.
                candidate.settimeout(
                    _remaining(self._deadline) / (len(addresses) - index)
                )
                # SECURITY: a numeric address, never a name: nothing is resolved here, so the
                # connection goes where check_webhook_url looked.
                candidate.connect((address, self._checked.port))
            except OSError as exc:
                candidate.close()
                error = exc
                continue
            raw, self.address = candidate, address
            break
        if raw is None:
            raise error or OSError("no address to connect to")
        try:
            # Headers and body leave in two writes; without this, Nagle's algorithm can hold
            # the body back until the receiver's delayed ACK.
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(_remaining(self._deadline))
            tls = self._context.wrap_socket(raw, server_hostname=self._checked.host)
        except BaseException:
            raw.close()
            raise
        self.sock = _DeadlineSocket(tls, self._deadline)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class _DeadlineSocket:
    """A socket whose every send and receive shares one deadline.

    SECURITY: a socket timeout alone bounds each read, so a receiver trickling one byte at a
    time could hold a worker for hours; re-arming the timeout with what is left of the deadline
    bounds the whole exchange.
    """

    def __init__(self, sock: ssl.SSLSocket, deadline: float):
        self._sock = sock
        self._deadline = deadline
        self._open_readers = 0
        self._close_requested = False

    def sendall(self, data) -> None:
        self._sock.settimeout(_remaining(self._deadline))
        self._sock.sendall(data)

    def recv_into(self, buffer) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb", *args, **kwargs):
        self._open_readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        # Like socket.makefile: http.client closes the connection as soon as it sees
        # "Connection: close", before the body is read, so the socket lives until the reader
        # is closed too.
        self._close_requested = True
        if not self._open_readers:
            self._sock.close()

    def _reader_closed(self) -> None:
        self._open_readers -= 1
        if self._close_requested and not self._open_readers:
            self._sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket):
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._sock._reader_closed()
