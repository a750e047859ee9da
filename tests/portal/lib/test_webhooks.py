"""Signing and sending webhooks, against real HTTPS receivers on 127.0.0.1."""

import base64
import ipaddress
import json
import random
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from portal.lib import webhooks
from portal.lib.netguard import check_webhook_url
from portal.lib.webhooks import (
    MAX_ATTEMPTS,
    Outcome,
    build_headers,
    deliver,
    generate_secret,
    post,
    retry_delay,
    secret_key,
    signature_header,
)
from tests.webhook_receiver import (
    HANG_UP,
    HOST,
    TEST_HOSTNAME,
    WebhookReceiver,
    make_tls,
)

PAYLOAD = json.dumps(
    {
        "type": "notice.published",
        "data": {"id": "HN-2026-0007", "project": "xz-utils ✓"},
    },
    separators=(",", ":"),
    ensure_ascii=False,
).encode()


def only_loopback(host, port, *args, **kwargs):
    """Every name resolves to 127.0.0.1, the only address these tests may touch."""
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (HOST, port))]


def resolving_to(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def resolve(host, port, *args, **kwargs):
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    return resolve


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("other-tls"), ca_name="Someone else's CA")


@pytest.fixture
def secret():
    return generate_secret()


@pytest.fixture
def receiver(tls, secret):
    with WebhookReceiver(tls, secrets=[secret]) as running:
        yield running


def send(
    receiver, tls, secrets, *, msg_id="msg_1", url=None, payload=PAYLOAD, **kwargs
):
    headers = build_headers(msg_id=msg_id, payload=payload, secrets=secrets)
    kwargs.setdefault("allow_loopback", True)
    kwargs.setdefault("ca_file", tls.ca_file)
    kwargs.setdefault("timeout", 5)
    return deliver(url or receiver.url(), payload, headers, **kwargs)


# Secrets and signatures ----------------------------------------------------------------------


def test_a_generated_secret_is_whsec_and_32_random_bytes():
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
    assert first != second
    assert secret_key(first) == base64.b64decode(first[6:])


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("c2VjcmV0", "starts with “whsec_”"),
        ("whsec_not*base64", "not valid base64"),
        ("whsec_" + base64.b64encode(b"x" * 23).decode(), "this one holds 23"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "this one holds 65"),
    ],
)
def test_a_malformed_secret_cannot_sign(secret, message):
    with pytest.raises(ValueError, match=message):
        signature_header([secret], "msg_1", 1_700_000_000, PAYLOAD)


def test_our_signature_is_the_one_the_reference_library_computes(secret):
    timestamp = 1_767_225_600
    ours = signature_header(
        [secret], "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", timestamp, PAYLOAD
    )
    reference = Webhook(secret).sign(
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        datetime.fromtimestamp(timestamp, UTC),
        PAYLOAD.decode(),
    )
    assert ours == reference


def test_rotation_signs_with_every_current_secret_once():
    old, new = generate_secret(), generate_secret()
    header = signature_header([old, new, old], "msg_1", 1_700_000_000, PAYLOAD)
    assert header.split(" ") == [
        signature_header([old], "msg_1", 1_700_000_000, PAYLOAD),
        signature_header([new], "msg_1", 1_700_000_000, PAYLOAD),
    ]


def test_the_signature_covers_id_timestamp_and_body(secret):
    base = signature_header([secret], "msg_1", 1_700_000_000, PAYLOAD)
    assert signature_header([secret], "msg_2", 1_700_000_000, PAYLOAD) != base
    assert signature_header([secret], "msg_1", 1_700_000_001, PAYLOAD) != base
    assert signature_header([secret], "msg_1", 1_700_000_000, PAYLOAD + b" ") != base


@pytest.mark.parametrize("msg_id", ["", "msg.1", "msg 1", "msg\n1", "x" * 257, None])
def test_an_id_that_could_blur_the_signed_content_is_refused(secret, msg_id):
    with pytest.raises(ValueError, match="webhook id"):
        signature_header([secret], msg_id, 1_700_000_000, PAYLOAD)


def test_signing_needs_a_secret_and_a_real_timestamp(secret):
    with pytest.raises(ValueError, match="At least one secret"):
        signature_header([], "msg_1", 1_700_000_000, PAYLOAD)
    for bad in (0, -5, 1.5, True, "1700000000"):
        with pytest.raises(ValueError, match="positive whole number"):
            signature_header([secret], "msg_1", bad, PAYLOAD)


def test_headers_follow_the_standard(secret):
    before = int(time.time())
    headers = build_headers(msg_id="dlv_abc", payload=PAYLOAD, secrets=[secret])
    assert headers["webhook-id"] == "dlv_abc"
    assert before <= int(headers["webhook-timestamp"]) <= int(time.time())
    assert headers["webhook-signature"] == signature_header(
        [secret], "dlv_abc", int(headers["webhook-timestamp"]), PAYLOAD
    )
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("Steady-Webhooks/")


# Delivery to a standardwebhooks receiver ----------------------------------------------------


def test_a_standardwebhooks_receiver_accepts_our_delivery(receiver, tls, secret):
    result = send(receiver, tls, [secret], msg_id="dlv_first")
    assert result.outcome is Outcome.DELIVERED
    assert (result.status, result.error, result.address) == (200, "", HOST)
    assert receiver.processed == ["dlv_first"]
    (request,) = receiver.requests
    assert request.verified
    assert request.body == PAYLOAD
    assert request.headers["content-type"] == "application/json"


def test_sni_and_host_carry_the_name_while_the_socket_goes_to_the_checked_address(
    receiver, tls, secret
):
    url = f"https://{TEST_HOSTNAME}:{receiver.port}/hook?team=infra"
    result = send(receiver, tls, [secret], url=url, resolve=only_loopback)
    assert result.outcome is Outcome.DELIVERED
    (request,) = receiver.requests
    assert request.server_name == TEST_HOSTNAME
    assert request.headers["host"] == f"{TEST_HOSTNAME}:{receiver.port}"
    assert request.path == "/hook?team=infra"


def test_post_connects_to_the_checked_address_without_resolving_again(
    receiver, tls, secret
):
    # The name exists nowhere but in this test's resolver: the send can only succeed by
    # connecting to the address the check returned.
    calls = []

    def rebinding(host, port, *args, **kwargs):
        calls.append(host)
        address = HOST if len(calls) == 1 else "10.0.0.5"
        return [(socket.AF_INET, socket.SOCK_STREAM, 0, "", (address, port))]

    checked = check_webhook_url(
        f"https://{TEST_HOSTNAME}:{receiver.port}/hook",
        allow_loopback=True,
        resolve=rebinding,
    )
    headers = build_headers(msg_id="dlv_pinned", payload=PAYLOAD, secrets=[secret])
    result = post(checked, PAYLOAD, headers, ca_file=tls.ca_file, timeout=5)
    assert result.outcome is Outcome.DELIVERED
    assert result.address == HOST
    assert calls == [TEST_HOSTNAME]
    assert receiver.processed == ["dlv_pinned"]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "the link-local cloud metadata address"),
        ("10.0.0.5", "a private address"),
        ("fd00::5", "a private (unique local) address"),
        (
            "::ffff:127.0.0.1",
            "an IPv4-mapped address for 127.0.0.1, a loopback address",
        ),
        ("2002:a00:5::1", "a 6to4 address for 10.0.0.5, a private address"),
        ("100.64.0.9", "a shared (carrier-grade NAT) address"),
        ("0.0.0.0", "the unspecified address"),  # noqa: S104 (refused, never bound)
        ("224.0.0.1", "a multicast address"),
    ],
)
def test_a_name_rebound_to_an_internal_address_at_send_time_is_not_contacted(
    receiver, tls, secret, address, reason
):
    url = f"https://{TEST_HOSTNAME}:{receiver.port}/hook"
    # Registration saw 127.0.0.1 (allowed in tests); by send time the name points inside.
    check_webhook_url(url, allow_loopback=True, resolve=only_loopback)
    result = send(receiver, tls, [secret], url=url, resolve=resolving_to(address))
    assert result.outcome is Outcome.FAILED
    assert (result.status, result.address) == (None, None)
    assert (
        f"resolves to {ipaddress.ip_address(address).compressed}, {reason}"
        in result.error
    )
    assert receiver.requests == []


def test_without_the_test_setting_loopback_is_never_contacted(receiver, tls, secret):
    result = send(receiver, tls, [secret], allow_loopback=False)
    assert result.outcome is Outcome.FAILED
    assert "a loopback address" in result.error
    assert receiver.requests == []


def test_a_name_that_no_longer_resolves_is_retried(receiver, tls, secret):
    def nxdomain(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    url = f"https://{TEST_HOSTNAME}:{receiver.port}/hook"
    result = send(receiver, tls, [secret], url=url, resolve=nxdomain)
    assert result.outcome is Outcome.RETRY
    assert "could not be resolved" in result.error


@pytest.mark.parametrize("knows", ["old", "new"])
def test_during_rotation_a_receiver_knowing_either_secret_accepts(tls, knows):
    old, new = generate_secret(), generate_secret()
    with WebhookReceiver(tls, secrets=[old if knows == "old" else new]) as receiver:
        result = send(receiver, tls, [old, new], msg_id="dlv_rotating")
        assert result.outcome is Outcome.DELIVERED
        assert receiver.processed == ["dlv_rotating"]


def test_a_receiver_knowing_neither_secret_rejects_and_we_retry(tls):
    with WebhookReceiver(tls, secrets=[generate_secret()]) as receiver:
        result = send(receiver, tls, [generate_secret()])
        assert result.outcome is Outcome.RETRY
        assert result.status == 401
        assert receiver.rejected == 1
        assert receiver.processed == []


def test_a_retry_keeps_the_id_so_the_receiver_processes_it_once(receiver, tls, secret):
    receiver.answer(500, times=1, then=200)
    first = send(receiver, tls, [secret], msg_id="dlv_same")
    second = send(receiver, tls, [secret], msg_id="dlv_same")
    again = send(receiver, tls, [secret], msg_id="dlv_same")
    assert [first.outcome, second.outcome, again.outcome] == [
        Outcome.RETRY,
        Outcome.DELIVERED,
        Outcome.DELIVERED,
    ]
    assert first.status == 500
    assert "HTTP 500" in first.error
    assert receiver.seen == {"dlv_same"}
    assert [r.status for r in receiver.requests] == [500, 200, 200]
    assert receiver.processed == ["dlv_same"]
    assert receiver.duplicates == {"dlv_same": 1}


def test_a_receiver_that_hangs_up_after_processing_gets_a_retry_it_can_drop(
    receiver, tls, secret
):
    receiver.answer(HANG_UP, times=1, then=200)
    first = send(receiver, tls, [secret], msg_id="dlv_crash")
    second = send(receiver, tls, [secret], msg_id="dlv_crash")
    assert (first.outcome, first.status) == (Outcome.RETRY, None)
    assert "closed the connection without answering" in first.error
    assert second.outcome is Outcome.DELIVERED
    assert receiver.processed == ["dlv_crash"]
    assert receiver.duplicates == {"dlv_crash": 1}


def test_410_means_gone(receiver, tls, secret):
    receiver.answer(410)
    result = send(receiver, tls, [secret])
    assert result.outcome is Outcome.GONE
    assert result.status == 410
    assert "no more webhooks" in result.error


def test_a_redirect_is_not_followed(tls, secret):
    with (
        WebhookReceiver(tls, secrets=[secret]) as receiver,
        WebhookReceiver(tls, secrets=[secret]) as elsewhere,
    ):
        receiver.answer(302)
        receiver.location = elsewhere.url("/took-the-bait")
        result = send(receiver, tls, [secret])
        assert result.outcome is Outcome.RETRY
        assert result.status == 302
        assert "redirect to https://127.0.0.1:" in result.error
        assert "not followed" in result.error
        assert len(receiver.requests) == 1
        assert elsewhere.requests == []


@pytest.mark.parametrize("status", [400, 404, 429, 500, 502, 503])
def test_other_failures_are_retried(receiver, tls, secret, status):
    receiver.answer(status)
    result = send(receiver, tls, [secret])
    assert (result.outcome, result.status) == (Outcome.RETRY, status)


def test_retry_after_from_the_receiver_is_passed_on(receiver, tls, secret):
    receiver.answer(429)
    receiver.reply_headers = {"Retry-After": "120"}
    result = send(receiver, tls, [secret])
    assert result.retry_after == 120
    receiver.reply_headers = {"Retry-After": "999999"}
    assert send(receiver, tls, [secret]).retry_after == webhooks.MAX_RETRY_AFTER


def test_a_stopped_receiver_means_retry_and_a_restarted_one_receives(
    receiver, tls, secret
):
    receiver.stop()
    down = send(receiver, tls, [secret], msg_id="dlv_later")
    assert down.outcome is Outcome.RETRY
    assert down.status is None
    assert "refused the connection" in down.error
    receiver.start()
    up = send(receiver, tls, [secret], msg_id="dlv_later")
    assert up.outcome is Outcome.DELIVERED
    assert receiver.processed == ["dlv_later"]


def test_a_certificate_from_another_ca_is_refused(tls, other_tls, secret):
    with WebhookReceiver(other_tls, secrets=[secret]) as impostor:
        result = send(impostor, tls, [secret])
        assert result.outcome is Outcome.RETRY
        assert result.error == (
            "The TLS certificate of 127.0.0.1 was not accepted: "
            "unable to get local issuer certificate."
        )
        assert impostor.wait_for_tls_failures(1)
        assert impostor.requests == []


def test_a_certificate_for_another_name_is_refused(receiver, tls, secret):
    url = f"https://evil.steady.test:{receiver.port}/hook"
    result = send(receiver, tls, [secret], url=url, resolve=only_loopback)
    assert result.outcome is Outcome.RETRY
    assert "Hostname mismatch" in result.error
    assert receiver.requests == []


def test_the_system_trust_store_does_not_trust_a_private_ca(receiver, secret):
    headers = build_headers(msg_id="dlv_x", payload=PAYLOAD, secrets=[secret])
    result = deliver(receiver.url(), PAYLOAD, headers, allow_loopback=True, timeout=5)
    assert result.outcome is Outcome.RETRY
    assert "not accepted" in result.error
    assert receiver.requests == []


def test_a_receiver_that_does_not_answer_in_time_is_retried(receiver, tls, secret):
    receiver.delay = 3
    result = send(receiver, tls, [secret], timeout=0.5)
    assert result.outcome is Outcome.RETRY
    assert "within 0.5 s." in result.error


@contextmanager
def raw_tls_server(tls, reply: bytes, *, pause: float = 0.0, hold: bool = False):
    """A TLS server on 127.0.0.1 that reads the request, sends `reply` (one byte per `pause`
    seconds when `pause` is set) and, with `hold`, then keeps the connection open in silence.
    Yields the URL. For answers the real receiver would never give."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    listener = socket.create_server((HOST, 0))
    listener.settimeout(10)
    stop = threading.Event()

    def serve():
        try:
            raw, _ = listener.accept()
            with context.wrap_socket(raw, server_side=True) as conn:
                conn.settimeout(10)
                conn.recv(65536)
                chunks = [bytes([b]) for b in reply] if pause else [reply]
                for chunk in chunks:
                    if stop.is_set():
                        return
                    conn.sendall(chunk)
                    time.sleep(pause)
                if hold:
                    stop.wait(10)
        except OSError:
            return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://{HOST}:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(timeout=15)
        listener.close()


def send_to(url, tls, secret, *, timeout=5, msg_id="dlv_raw"):
    headers = build_headers(msg_id=msg_id, payload=PAYLOAD, secrets=[secret])
    return deliver(
        url, PAYLOAD, headers, allow_loopback=True, ca_file=tls.ca_file, timeout=timeout
    )


def test_a_receiver_trickling_its_answer_cannot_hold_the_sender(tls, secret):
    # Each byte arrives well within the timeout, so only a deadline over the whole attempt
    # stops this; per-read timeouts alone would wait for the full answer and call it delivered.
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Padding: " + b"a" * 40 + b"\r\n\r\n"
    )
    with raw_tls_server(tls, reply, pause=0.05) as url:
        result = send_to(url, tls, secret, timeout=1)
    assert result.outcome is Outcome.RETRY
    assert "within 1 s." in result.error


def test_only_a_bounded_excerpt_of_the_answer_is_kept(tls, secret):
    body = ("<html>" + "\x1b[31m" + "broken " * 5000 + "</html>").encode()
    reply = b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with raw_tls_server(tls, reply) as url:
        result = send_to(url, tls, secret)
    assert (result.outcome, result.status) == (Outcome.RETRY, 500)
    assert result.error.startswith("HTTP 500: <html> [31mbroken broken")
    assert len(result.error) <= len("HTTP 500: ") + 200
    assert "\x1b" not in result.error


@pytest.mark.parametrize(
    ("status_line", "outcome"),
    [(b"HTTP/1.1 200 OK", Outcome.DELIVERED), (b"HTTP/1.1 410 Gone", Outcome.GONE)],
)
def test_an_answer_whose_body_stalls_still_counts_by_its_status(
    tls, secret, status_line, outcome
):
    reply = status_line + b"\r\nContent-Length: 5000\r\n\r\npartial"
    with raw_tls_server(tls, reply, hold=True) as url:
        result = send_to(url, tls, secret, timeout=2)
    assert result.outcome is outcome


@pytest.mark.parametrize(
    "reply",
    [
        b"",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 150 + b"\r\n",
    ],
)
def test_a_garbled_or_missing_answer_is_retried(tls, secret, reply):
    with raw_tls_server(tls, reply) as url:
        result = send_to(url, tls, secret)
    assert result.outcome is Outcome.RETRY
    assert result.status is None


def test_caller_headers_cannot_override_host_or_length(receiver, tls, secret):
    headers = build_headers(msg_id="dlv_h", payload=PAYLOAD, secrets=[secret])
    headers.update({"Host": "internal.example", "content-length": "1"})
    result = deliver(
        receiver.url(),
        PAYLOAD,
        headers,
        allow_loopback=True,
        ca_file=tls.ca_file,
        timeout=5,
    )
    assert result.outcome is Outcome.DELIVERED
    (request,) = receiver.requests
    assert request.headers["host"] == f"{HOST}:{receiver.port}"
    assert request.body == PAYLOAD


# Backoff ----------------------------------------------------------------------------------------


class Extreme:
    """Jitter pinned to one end of its range, to see the schedule's bounds."""

    def __init__(self, end):
        self.end = end

    def uniform(self, low, high):
        return low if self.end == "low" else high


def test_the_schedule_grows_and_spans_about_a_day():
    nominal = [retry_delay(n, Extreme("low")) / 0.8 for n in range(1, MAX_ATTEMPTS)]
    assert nominal == pytest.approx([5, 300, 1800, 7200, 18000, 36000, 36000])
    shortest = sum(retry_delay(n, Extreme("low")) for n in range(1, MAX_ATTEMPTS))
    longest = sum(retry_delay(n, Extreme("high")) for n in range(1, MAX_ATTEMPTS))
    assert 20 * 3600 < shortest < 24 * 3600
    assert 30 * 3600 < longest < 36 * 3600


def test_each_delay_stays_within_twenty_percent_of_its_step():
    rng = random.Random(5)
    for attempt, step in enumerate(webhooks.RETRY_SCHEDULE, start=1):
        delays = [retry_delay(attempt, rng) for _ in range(200)]
        assert all(step * 0.8 <= d <= step * 1.2 for d in delays)
        assert len(set(delays)) > 100


def test_after_the_last_attempt_the_delivery_is_dead():
    assert MAX_ATTEMPTS == 8
    assert retry_delay(MAX_ATTEMPTS - 1) is not None
    assert retry_delay(MAX_ATTEMPTS) is None
    assert retry_delay(MAX_ATTEMPTS + 3) is None


@pytest.mark.parametrize("attempt", [0, -1, True, 1.0])
def test_attempts_are_counted_from_one(attempt):
    with pytest.raises(ValueError, match="counted from 1"):
        retry_delay(attempt)


def test_retry_after_lengthens_a_delay_but_only_up_to_an_hour():
    assert retry_delay(1, Extreme("high"), retry_after=60) == 60
    assert retry_delay(1, Extreme("high"), retry_after=86400) == 3600
    assert retry_delay(5, Extreme("low"), retry_after=60) == pytest.approx(18000 * 0.8)


def test_the_payload_must_be_the_signed_bytes(receiver, tls, secret):
    checked = check_webhook_url(receiver.url(), allow_loopback=True)
    headers = build_headers(msg_id="dlv_s", payload=PAYLOAD, secrets=[secret])
    with pytest.raises(TypeError, match="exact bytes"):
        post(checked, PAYLOAD.decode(), headers, ca_file=tls.ca_file)
    assert receiver.requests == []


def test_headers_from_an_earlier_attempt_are_rejected_as_a_replay(
    receiver, tls, secret
):
    # The receiver's library refuses timestamps over five minutes old, so every retry must
    # build its headers afresh; only the id stays.
    stale = build_headers(
        msg_id="dlv_old",
        payload=PAYLOAD,
        secrets=[secret],
        timestamp=int(time.time()) - 600,
    )
    result = deliver(
        receiver.url(),
        PAYLOAD,
        stale,
        allow_loopback=True,
        ca_file=tls.ca_file,
        timeout=5,
    )
    assert (result.outcome, result.status) == (Outcome.RETRY, 401)
    assert receiver.rejected == 1
    assert receiver.processed == []


def test_one_receiver_serves_many_endpoints_each_with_its_own_secret(tls):
    first, second = generate_secret(), generate_secret()
    with WebhookReceiver(tls) as receiver:
        first_url = receiver.add_endpoint("/subscription/1", [first])
        second_url = receiver.add_endpoint("/subscription/2", [second])
        ok = deliver(
            first_url,
            PAYLOAD,
            build_headers(msg_id="dlv_1", payload=PAYLOAD, secrets=[first]),
            allow_loopback=True,
            ca_file=tls.ca_file,
        )
        crossed = deliver(
            second_url,
            PAYLOAD,
            build_headers(msg_id="dlv_2", payload=PAYLOAD, secrets=[first]),
            allow_loopback=True,
            ca_file=tls.ca_file,
        )
        assert ok.outcome is Outcome.DELIVERED
        assert (crossed.outcome, crossed.status) == (Outcome.RETRY, 401)
        assert receiver.processed == ["dlv_1"]
        assert receiver.wait_for_processed(1, timeout=0)
        assert not receiver.wait_for_processed(2, timeout=0.1)
