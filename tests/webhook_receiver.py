"""A real HTTPS webhook receiver on 127.0.0.1 for tests, verifying with `standardwebhooks`.

    tls = make_tls(tmp_path)                      # a CA of the test's own, and a server cert
    with WebhookReceiver(tls, secrets=[secret]) as receiver:
        deliver(receiver.url("/hook"), ..., allow_loopback=True, ca_file=tls.ca_file)
        receiver.wait_for_processed(1)

Every request is verified with `standardwebhooks.Webhook(secret).verify(body, headers)` against
the secrets of its path (any one may match, as during a rotation); unverifiable requests get 401
and are counted in `rejected`. A verified request is answered with the next status from
`script`, else `status` (200 by default). A webhook-id verified and answered 2xx is *processed*;
the same id arriving again is answered 200 and counted in `duplicates`, not processed twice.
`answer(HANG_UP)` processes and then drops the connection unanswered. `stop()` closes the port
and `start()` reopens the same one, to play a receiver that is down.
"""

import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

HOST = "127.0.0.1"
# A name tests make resolve to 127.0.0.1 through `resolve=`, to see SNI and Host carry the name
# while the connection goes to the checked address.
TEST_HOSTNAME = "hooks.steady.test"
_MAX_BODY = 1 << 20
# An answer for `answer()`: process the webhook, then drop the connection without replying,
# like a receiver that crashed after committing its work. The retry must be a duplicate.
HANG_UP = 0


@dataclass(frozen=True)
class TLSMaterial:
    ca_file: str
    cert_file: str
    key_file: str


def make_tls(
    directory: Path,
    *,
    names: tuple[str, ...] = ("localhost", TEST_HOSTNAME),
    addresses: tuple[str, ...] = (HOST,),
    ca_name: str = "Steady test CA",
) -> TLSMaterial:
    """A fresh CA and a server certificate it issued, written as PEM files under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in names] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in addresses
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "ca.pem"
    cert_file = directory / "server.pem"
    key_file = directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TLSMaterial(str(ca_file), str(cert_file), str(key_file))


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    server_name: str | None
    verified: bool
    status: int


@dataclass
class _State:
    lock: threading.Condition = field(default_factory=threading.Condition)
    requests: list[ReceivedRequest] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    processed_set: set[str] = field(default_factory=set)
    duplicates: Counter = field(default_factory=Counter)
    rejected: int = 0
    tls_failures: int = 0


class WebhookReceiver:
    """See the module docstring. Thread-safe; use as a context manager or start()/stop()."""

    def __init__(
        self,
        tls: TLSMaterial,
        *,
        secrets: list[str] | None = None,
        port: int = 0,
        status: int = 200,
        delay: float = 0.0,
    ):
        self.tls = tls
        self.status = status
        self.script: list[int] = []
        self.delay = delay
        self.location = "/redirected"
        self.reply_headers: dict[str, str] = {}
        self._default_secrets = list(secrets or [])
        self._endpoints: dict[str, list[str]] = {}
        self._state = _State()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Configuration ------------------------------------------------------------------------

    def add_endpoint(self, path: str, secrets: list[str]) -> str:
        """Accept webhooks at `path` signed by any of `secrets`; returns its URL."""
        with self._state.lock:
            self._endpoints[path] = list(secrets)
        return self.url(path)

    def set_secrets(self, secrets: list[str], path: str | None = None) -> None:
        with self._state.lock:
            if path is None:
                self._default_secrets = list(secrets)
            else:
                self._endpoints[path] = list(secrets)

    def answer(self, status: int, *, then: int | None = None, times: int = 0) -> None:
        """Answer `status` from now on, or `times` times and then `then`."""
        with self._state.lock:
            if times:
                self.script = [status] * times
                if then is not None:
                    self.status = then
            else:
                self.script = []
                self.status = status

    # Lifecycle ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str = "/hook", *, host: str = HOST) -> str:
        return f"https://{host}:{self._port}{path}"

    def start(self) -> "WebhookReceiver":
        if self._server is not None:
            return self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        server_names: dict[int, str | None] = {}

        def remember_sni(ssl_socket, server_name, _context):
            server_names[id(ssl_socket)] = server_name

        context.sni_callback = remember_sni
        handler = _make_handler(self, server_names)
        server = _TLSServer((HOST, self._port), handler, context)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # What was received --------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def processed(self) -> list[str]:
        """webhook-ids verified and answered 2xx, first time only, in arrival order."""
        with self._state.lock:
            return list(self._state.processed)

    @property
    def seen(self) -> set[str]:
        """Every verified webhook-id, whatever it was answered."""
        with self._state.lock:
            return {
                r.headers.get("webhook-id", "")
                for r in self._state.requests
                if r.verified
            }

    @property
    def duplicates(self) -> Counter:
        """webhook-id -> how many times it came again after being processed."""
        with self._state.lock:
            return Counter(self._state.duplicates)

    @property
    def rejected(self) -> int:
        with self._state.lock:
            return self._state.rejected

    @property
    def tls_failures(self) -> int:
        """Connections whose TLS handshake failed (for example, the client refused our cert)."""
        with self._state.lock:
            return self._state.tls_failures

    def wait_for_processed(self, count: int, timeout: float = 10.0) -> bool:
        """True once `count` distinct webhook-ids were processed; False after `timeout`."""
        return self._wait(lambda state: len(state.processed) >= count, timeout)

    def wait_for_tls_failures(self, count: int, timeout: float = 10.0) -> bool:
        return self._wait(lambda state: state.tls_failures >= count, timeout)

    def _wait(self, done, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._state.lock:
            while not done(self._state):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state.lock.wait(left)
            return True

    # Used by the handler ------------------------------------------------------------------

    def _secrets_for(self, path: str) -> list[str]:
        return self._endpoints.get(path.split("?", 1)[0], self._default_secrets)

    def _handle(
        self, path: str, headers: dict[str, str], body: bytes, sni: str | None
    ) -> int:
        with self._state.lock:
            secrets = list(self._secrets_for(path))
        verified = False
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers)
            except (WebhookVerificationError, ValueError):
                continue
            verified = True
            break
        with self._state.lock:
            state = self._state
            if not verified:
                status = 401
                state.rejected += 1
            else:
                status = self.script.pop(0) if self.script else self.status
                msg_id = headers.get("webhook-id", "")
                if 200 <= status < 300 or status == HANG_UP:
                    if msg_id in state.processed_set:
                        state.duplicates[msg_id] += 1
                    else:
                        state.processed_set.add(msg_id)
                        state.processed.append(msg_id)
            state.requests.append(
                ReceivedRequest(path, headers, body, sni, verified, status)
            )
            state.lock.notify_all()
        return status


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Worker tests open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 256

    def __init__(self, address, handler, context: ssl.SSLContext):
        self._context = context
        super().__init__(address, handler)

    def get_request(self):
        sock, address = self.socket.accept()
        # The handshake happens in the handler's thread, so one slow client cannot stall
        # the accept loop.
        return self._context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request, client_address):
        # Clients that hang up or refuse the certificate are part of what tests exercise.
        pass


def _make_handler(receiver: WebhookReceiver, server_names: dict[int, str | None]):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10

        def setup(self):
            self.request.settimeout(self.timeout)
            try:
                self.request.do_handshake()
            except (OSError, ssl.SSLError):
                with receiver._state.lock:
                    receiver._state.tls_failures += 1
                    receiver._state.lock.notify_all()
                raise
            finally:
                # Popped either way: a stale entry could name a later socket with the same id.
                self.server_name = server_names.pop(id(self.request), None)
            super().setup()

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(min(length, _MAX_BODY))
            if receiver.delay:
                time.sleep(receiver.delay)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver._handle(self.path, headers, body, self.server_name)
            if status == HANG_UP:
                self.close_connection = True
                return
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", receiver.location)
            for name, value in receiver.reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            reply = f"status {status}".encode()
            self.send_header("Content-Length", str(len(reply)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply)
            self.close_connection = True

        def do_GET(self):
            # Only a followed redirect would ever GET here; record it so tests can see one.
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver._state.lock:
                receiver._state.requests.append(
                    ReceivedRequest(
                        self.path, headers, b"", self.server_name, False, 405
                    )
                )
            self.send_error(405)

        def log_message(self, format, *args):
            pass

    return Handler
