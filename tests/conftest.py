"""The named cast every test shares, and the real components tests run against."""

import socket
import threading
import uuid
from contextlib import contextmanager

import pytest
from django.db import connection

from cases import services as case_services
from cases.models import Category, HelpWanted, Urgency
from portal.accounts import roles
from portal.projects.services import register_project
from tests.factories import UserFactory
from tests.totp import enrol

CANARY_NARRATIVE = "The narrative nobody else may read: violet-otter-4471."


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness protects real passwords, not test fixtures.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_attachment_root(settings, tmp_path):
    settings.ATTACHMENT_ROOT = str(tmp_path / "attachments")


@pytest.fixture(autouse=True)
def _cache_of_its_own(settings):
    # The configured cache (Redis in CI) outlives a test: allauth's rate limits and used-code
    # records would leak into the next test. A fresh key prefix isolates them without flushing
    # a database other processes may share.
    settings.CACHES = {
        name: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
        for name, config in settings.CACHES.items()
    }


def _with_roles(*role_names, **kwargs):
    user = UserFactory(**kwargs)
    for role in role_names:
        roles.grant_role(user, role)
    return user


@pytest.fixture
def maintainer(db):
    return _with_roles(
        roles.MAINTAINER, email="maya@example.org", display_name="Maya Maintainer"
    )


@pytest.fixture
def other_maintainer(db):
    return _with_roles(
        roles.MAINTAINER, email="otto@example.org", display_name="Otto Other"
    )


def _enrolled(user):
    """Caseworkers pass the second-factor gate only with an authenticator app (see tests/totp.py)."""
    enrol(user)
    return user


@pytest.fixture
def caseworker(db):
    """The caseworker assigned to `case` (with an authenticator app, like every caseworker here)."""
    return _enrolled(
        _with_roles(
            roles.CASEWORKER, email="cara@example.org", display_name="Cara Caseworker"
        )
    )


@pytest.fixture
def second_caseworker(db):
    """Another caseworker, not on the case: the four-eyes approver."""
    return _enrolled(
        _with_roles(
            roles.CASEWORKER, email="colin@example.org", display_name="Colin Second"
        )
    )


@pytest.fixture
def unassigned_caseworker(db):
    return _enrolled(
        _with_roles(
            roles.CASEWORKER, email="uma@example.org", display_name="Uma Unassigned"
        )
    )


@pytest.fixture
def caseworker_without_mfa(db):
    """A new caseworker who has not enrolled a second factor: the gate sends them to enrolment."""
    return _with_roles(
        roles.CASEWORKER, email="nia@example.org", display_name="Nia Newcomer"
    )


@pytest.fixture
def steward(db):
    return _with_roles(
        roles.STEWARD, email="stella@example.org", display_name="Stella Steward"
    )


@pytest.fixture
def stranger(db):
    return UserFactory(email="sam@example.org", display_name="Sam Stranger")


@pytest.fixture
def project(maintainer):
    return register_project(
        actor=maintainer,
        name="tinyzip",
        ecosystem="generic",
        repository_url="https://github.com/example/tinyzip",
        purls=["pkg:github/example/tinyzip"],
    )


@pytest.fixture
def other_project(other_maintainer):
    return register_project(
        actor=other_maintainer,
        name="leftpadx",
        ecosystem="npm",
        repository_url="https://github.com/example/leftpadx",
        purls=["pkg:npm/leftpadx"],
    )


@pytest.fixture
def new_case(maintainer, project):
    """A case as the maintainer opened it: nobody else assigned yet."""
    return case_services.open_case(
        actor=maintainer,
        project=project,
        category=Category.HARASSMENT,
        urgency=Urgency.HIGH,
        help_wanted=[HelpWanted.STEWARD],
        narrative=CANARY_NARRATIVE,
    )


@pytest.fixture
def case(new_case, caseworker):
    """A case opened by `maintainer` and assigned to `caseworker`, through the services."""
    return case_services.assign_caseworker(
        case=new_case, caseworker=caseworker, actor=caseworker
    )


# --- Real components ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message it receives."""

    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        import email

        message = email.message_from_bytes(envelope.content)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def to(self, address: str):
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_sink(settings):
    """Route Django's mail through real SMTP to a local sink; yields the sink."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        controller.stop()


@contextmanager
def running_worker():
    """A real Celery worker consuming from the configured broker (Redis in CI, memory otherwise)."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from portal.celery import app

    if not app.conf.broker_url:
        app.conf.broker_url = "memory://"
        # A task run eagerly earlier in the session made the producer pool for Celery's default
        # broker URL (amqp://localhost); drop it so messages go where this worker consumes.
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
    app.conf.task_always_eager = False
    app.control.purge()

    def close_connection(**kwargs):
        # The worker runs in its own thread, with its own database connection: close it after
        # each task so the test database can be dropped at the end of the session.
        connection.close()

    task_postrun.connect(close_connection, weak=False)
    try:
        with start_worker(
            app,
            pool="solo",
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=30,
        ):
            yield app
    finally:
        task_postrun.disconnect(close_connection)


@pytest.fixture
def celery_worker(transactional_db):
    with running_worker() as app:
        yield app
