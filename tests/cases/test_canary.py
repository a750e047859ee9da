"""THE leak test: a case's words never reach anyone who may not read the case, by any URL.

One case gets a unique canary phrase in every place a person writes: the narrative, a shared
message, an internal note, the names and contents of a shared and an internal file. Then every
URL pattern of the project (ours, allauth's and the admin's, found by walking the resolver, so a
URL added tomorrow is covered tomorrow) is filled with that case's ids and requested with GET and
with an empty POST by everyone who may not see the case: an anonymous visitor, a stranger, the
maintainer of another project, a caseworker not on the case, a steward and an unassigned
superuser. No response body, header or cookie may hold a canary; neither may any log record
(captured at DEBUG from the first write to the last request), any SQL query sent while the words
were written, nor any mail the real worker delivered to the SMTP sink meanwhile.
"""

import datetime
import itertools
import logging
import re
import time
import uuid

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404

from cases import screening, services
from cases.models import (
    Assignment,
    Case,
    CaseAttachment,
    ConcernAlert,
    StewardRequest,
)
from portal.audit.models import AuditEvent
from portal.notices import services as notice_services
from portal.notices.models import Delivery, HandoverNotice
from portal.notices.tokens import make_confirm_token, make_unsubscribe_token
from tests.factories import SubscriptionFactory, UserFactory

# Real commits, so mail is queued after commit and sent by a real worker to a real SMTP sink.
# serialized_rollback: the role groups (data-migration rows) come back after the flush.
from tests.portal.notices.conftest import HANDOVER_FORM  # noqa: E402
from tests.totp import enrol

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REFUSED_ROLES = [
    "anonymous",
    "stranger",
    "other_maintainer",
    "unassigned_caseworker",
    "steward",
    "superuser",
]
MAX_SKIPPED = 2
MAIL_TIMEOUT = 30.0

DRAFT = HANDOVER_FORM


def _canaries() -> dict[str, str]:
    run = uuid.uuid4().hex[:10]
    return {
        kind: f"canary{kind}{run}"
        for kind in (
            "narrative",
            "message",
            "reply",
            "note",
            "filename",
            "filecontent",
            "internalname",
            "internalcontent",
            "brief",
            "report",
            "identity",
        )
    }


def _found(canaries: dict[str, str], *texts) -> list[str]:
    """The canaries that occur in any of `texts` (str or bytes), case-insensitively."""
    blob = b"\n".join(
        (t if isinstance(t, bytes) else str(t).encode("utf-8", "replace")).lower()
        for t in texts
    )
    return [c for c in canaries.values() if c.lower().encode() in blob]


# --- Planting the canaries ------------------------------------------------------------------------


def _plant(canaries, *, maintainer, caseworker, second_caseworker, project):
    """Write every canary the way people do: through the pages, as the people allowed to."""
    client = Client()
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:create"),
        {
            "project": project.pk,
            "category": "harassment",
            "urgency": "1",
            "help_wanted": ["steward"],
            "narrative": f"Pressure campaign. {canaries['narrative']}",
        },
    )
    assert response.status_code == 302, response.content.decode()
    case = Case.objects.get()
    client.force_login(caseworker)
    assert (
        client.post(reverse("cases:assign-self", args=[case.public_id])).status_code
        == 302
    )
    # A colleague assigned by the caseworker gets a mail about it.
    response = client.post(
        reverse("cases:assign-colleague", args=[case.public_id]),
        {"caseworker": second_caseworker.pk},
    )
    assert response.status_code == 302
    steps = [
        (maintainer, "cases:post-message", {"body": f"Help. {canaries['message']}"}),
        (caseworker, "cases:post-message", {"body": f"Here. {canaries['reply']}"}),
        (
            caseworker,
            "cases:post-message",
            {"body": f"Internal. {canaries['note']}", "internal": "on"},
        ),
        (
            maintainer,
            "cases:add-attachment",
            {
                "file": SimpleUploadedFile(
                    f"{canaries['filename']}.txt",
                    f"Evidence {canaries['filecontent']}\n".encode(),
                )
            },
        ),
        (
            caseworker,
            "cases:add-attachment",
            {
                "file": SimpleUploadedFile(
                    f"{canaries['internalname']}.txt",
                    f"Internal {canaries['internalcontent']}\n".encode(),
                ),
                "internal": "on",
            },
        ),
        (caseworker, "cases:draft-handover", DRAFT),
        (caseworker, "cases:draft-handover", {**DRAFT, "project_name": "tinyzip-two"}),
    ]
    for person, name, data in steps:
        client.force_login(person)
        response = client.post(reverse(name, args=[case.public_id]), data)
        assert response.status_code == 302, (name, response.content.decode())
    # Positive control: the scanner finds every readable canary on the caseworker's page.
    page = client.get(reverse("cases:detail", args=[case.public_id])).content
    readable = {
        k: v
        for k, v in canaries.items()
        if "content" not in k and k not in STEWARD_CANARIES
    }
    assert sorted(_found(readable, page)) == sorted(readable.values())
    _plant_stewardship(
        canaries, case=case, maintainer=maintainer, caseworker=caseworker
    )
    return case


# Written during the steward journey: the brief, the steward's report, an identity of concern.
STEWARD_CANARIES = ("brief", "report", "identity")


def _plant_stewardship(canaries, *, case, maintainer, caseworker):
    """A steward request with a canary brief, an identity of concern, an accepted assignment
    and a handover report, all through the pages."""
    from tests.cases.stewards import make_steward

    client = Client()
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:record-identity", args=[case.public_id]),
        {"identity": f"github:{canaries['identity']}", "kind": "pressure"},
    )
    assert response.status_code == 302, response.content.decode()
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:request-steward", args=[case.public_id]),
        {
            "scope": ["triage"],
            "starts_on": "2030-01-01",
            "ends_on": "2030-03-01",
            "ecosystem": "generic",
            "skills": "c",
            "hours_per_week": "5",
            "time_zone": "Europe/Paris",
            "brief": f"Brief: {canaries['brief']}",
        },
    )
    assert response.status_code == 302, response.content.decode()
    steward = make_steward("canary-steward")
    steward_request = StewardRequest.objects.get()
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:propose-steward", args=[steward_request.public_id]),
        {"steward": str(steward.public_id)},
    )
    assert response.status_code == 302, response.content.decode()
    assignment = Assignment.objects.get()
    client.force_login(maintainer)
    url = reverse("cases:respond-assignment", args=[assignment.public_id])
    assert client.post(url, {"decision": "accept"}).status_code == 302
    client.force_login(steward.user)
    url = reverse("cases:file-report", args=[assignment.public_id])
    response = client.post(url, {"access_returned": f"All. {canaries['report']}"})
    assert response.status_code == 302, response.content.decode()
    # Positive control: the maintainer's assignment page shows the brief and the report.
    client.force_login(maintainer)
    page = client.get(reverse("cases:assignment", args=[assignment.public_id])).content
    assert sorted(
        _found({k: canaries[k] for k in ("brief", "report")}, page)
    ) == sorted([canaries["brief"], canaries["report"]])


# --- Filling every URL pattern --------------------------------------------------------------------

_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()\\]|\\.|\([^()]*\))*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _join(prefix: str, route: str) -> str:
    # The way Django joins routes in ResolverMatch.route.
    return route if not prefix else prefix + route.removeprefix("^")


def _patterns(patterns=None, prefix="", namespaces=()):
    """(full route, full name or None, parameter names) for every pattern, depth first."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = _join(prefix, str(entry.pattern))
        if isinstance(entry, URLResolver):
            ns = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from _patterns(entry.url_patterns, route, ns)
        elif isinstance(entry, URLPattern):
            name = ":".join(namespaces + (entry.name,)) if entry.name else None
            yield route, name, list(entry.pattern.regex.groupindex)


def _build(route: str, values: dict[str, str]) -> str:
    # Regex groups first: their "(?P<name>" would otherwise look like a path converter.
    path = _GROUP.sub(lambda m: values[m.group(1)], route)
    path = _CONVERTER.sub(lambda m: values[m.group(1)], path)
    return "/" + path.replace("^", "").rstrip("$")


def _admin_object_ids(name: str, ids: dict[str, list]) -> list:
    """The objects an admin URL may show, by the model its name is for."""
    for label, values in ids.items():
        if name.startswith(f"admin:{label}_"):
            return values
    return [1]


ASSIGNMENT_URLS = {
    "cases:assignment",
    "cases:respond-assignment",
    "cases:approve-assignment",
    "cases:propose-extension",
    "cases:respond-extension",
    "cases:clear-assignment-block",
    "cases:file-report",
}


def _candidates(route, name, params, world) -> list[dict[str, str]]:
    """Every way to fill `params` for this pattern with the world's real ids."""
    choices = {}
    for param in params:
        if param == "public_id":
            if name in ASSIGNMENT_URLS:
                choices[param] = [world["assignment"].public_id]
            elif name == "cases:suspend_steward" or (name or "").startswith("roster:"):
                choices[param] = [world["assignment"].steward.public_id]
            else:
                choices[param] = world["public_ids"].get(
                    name, [world["case"].public_id]
                )
        elif param == "attachment_id":
            choices[param] = world["attachments"]
        elif param == "object_id" and name == "admin:view_on_site":
            choices[param] = [world["case"].pk]
        elif param == "object_id":
            if name is None:  # the admin's bare "<app>/<model>/<id>/" redirect
                _, app, model, *_ = route.split("/")
                name = f"admin:{app}_{model}_"
            choices[param] = _admin_object_ids(name, world["admin_ids"])
        elif param in world["values"]:
            choices[param] = world["values"][param]
        else:
            return []
    keys = list(choices)
    return [
        {k: str(v) for k, v in zip(keys, combo, strict=True)}
        for combo in itertools.product(*(choices[k] for k in keys))
    ]


def _world(case, *, maintainer, caseworker, second_caseworker, project):
    """Real ids for every kind of URL parameter the project has."""
    attachments = list(
        CaseAttachment.objects.filter(case=case).values_list("public_id", flat=True)
    )
    waiting = notice_services.request_subscription(email="pending@example.net")
    # Subscribed before the approval, so the published notice is delivered to it.
    active = SubscriptionFactory(email="active@example.net")
    pending, published = HandoverNotice.objects.order_by("pk")[:2]
    notice_services.approve_revision(
        revision=published.revisions.get(), actor=second_caseworker
    )
    published.refresh_from_db()
    conflict = services.declare_conflict(actor=caseworker, project=project, reason="x")
    webhook = SubscriptionFactory(
        channel="webhook",
        email="",
        url="https://hooks.example.net/steady",
        owner=maintainer,
        secrets=["whsec_" + "A" * 43 + "="],
    )
    email = EmailAddress.objects.get(user=maintainer)
    case_events = list(
        AuditEvent.objects.filter(object_id=str(case.public_id)).values_list(
            "pk", flat=True
        )
    )
    assignment = Assignment.objects.select_related("steward").get()
    extension = services.propose_extension(
        assignment=assignment,
        actor=caseworker,
        new_ends_on=assignment.ends_on + datetime.timedelta(days=30),
    )
    screening.screen_identities(
        identities=[screening.identity_of(case.identities_of_concern.get())],
        source="roster-application",
        subject="someone",
    )
    return {
        "case": case,
        "assignment": assignment,
        "attachments": attachments,
        "public_ids": {
            "notices:approve": [pending.revisions.get().public_id],
            "notices:discard": [pending.revisions.get().public_id],
            "notices:webhook": [webhook.public_id],
            "notices:webhook_action": [webhook.public_id],
            "notices:redeliver": [
                delivery.public_id for delivery in Delivery.objects.all()[:1]
            ]
            or [uuid.uuid4()],
        },
        "admin_ids": {
            "cases_case": [case.pk],
            "audit_auditevent": case_events,
            "accounts_user": [maintainer.pk, caseworker.pk],
            "auth_group": list(Group.objects.values_list("pk", flat=True)),
            "account_emailaddress": [email.pk],
            "mfa_authenticator": list(
                Authenticator.objects.values_list("pk", flat=True)[:1]
            ),
            "projects_project": [project.pk],
            "notices_handovernotice": [pending.pk, published.pk],
            "notices_subscription": [waiting.pk, active.pk],
            "notices_delivery": list(Delivery.objects.values_list("pk", flat=True)[:1])
            or [1],
        },
        "values": {
            "conflict_id": [conflict.pk],
            "request_id": [StewardRequest.objects.get().public_id],
            "alert_id": [ConcernAlert.objects.get().public_id],
            "extension_id": [extension.public_id],
            "token": [make_confirm_token(waiting), make_unsubscribe_token(active)],
            "reference": [published.reference],
            "number": [1, "latest"],
            "revision_id": [pending.revisions.get().public_id],
            "ecosystem": ["generic"],
            "project": [published.project_name],
            "action": ["rotate", "retire", "remove", "enable"],
            "key": [EmailConfirmationHMAC(email).key],
            "uidb36": [user_pk_to_url_str(maintainer)],
            "content_type_id": [ContentType.objects.get_for_model(Case).pk],
            "id": [maintainer.pk],
            "app_label": ["cases", "audit"],
            "url": [f"cases/case/{case.pk}", "cases/case"],
        },
        "reset_key": default_token_generator.make_token(maintainer),
    }


def _urls(world) -> tuple[list[tuple[str, str]], list[str]]:
    """(url, route) for every pattern filled every way; and the routes that could not be."""
    urls, skipped = [], []
    for route, name, params in _patterns():
        filled = _candidates(route, name, params, world)
        if name == "account_reset_password_from_key":
            for values in filled:
                values["key"] = world["reset_key"]
        built = []
        for values in filled:
            url = _build(route, values)
            try:
                match = resolve(url)
            except Resolver404:
                continue
            # The URL must reach this very pattern, not an earlier, wider one.
            if match.route == route:
                built.append((url, route))
        if built:
            urls += built
        else:
            skipped.append(route)
    return urls, skipped


# --- Requesting everything as everyone -------------------------------------------------------------


def _response_text(response) -> bytes:
    body = (
        b"".join(response.streaming_content)
        if getattr(response, "streaming", False)
        else response.content
    )
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return body + b"\n" + headers.encode() + b"\n" + response.cookies.output().encode()


def _has_totp(person) -> bool:
    return Authenticator.objects.filter(
        user=person, type=Authenticator.Type.TOTP
    ).exists()


def _sweep(person, urls, canaries):
    """GET and empty POST every URL as `person`; the leaks and server errors found."""
    client = Client(raise_request_exception=False)
    leaks, errors, statuses = [], [], {}
    had_totp = person is not None and _has_totp(person)
    for (url, route), method in itertools.product(urls, ("get", "post")):
        if person is not None:
            # Signed in again each time, with the authenticator app back if an empty POST took
            # it away: a logout or deactivation earlier in the sweep must not turn the rest of
            # it into requests the sign-in page or the second-factor gate answers.
            if had_totp and not _has_totp(person):
                enrol(person)
            client.force_login(person)
        response = getattr(client, method)(url, {} if method == "post" else None)
        statuses[method, url] = response.status_code
        if response.status_code >= 500:
            errors.append(f"{method.upper()} {url} -> {response.status_code}")
        found = _found(canaries, _response_text(response))
        if found:
            leaks.append(
                f"{method.upper()} {url} ({route}) -> {response.status_code}: {found}"
            )
    return leaks, errors, statuses


def _mail_texts(messages) -> list[bytes]:
    texts = []
    for message in messages:
        texts.append(message.as_bytes())
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if payload:
                texts.append(payload)
    return texts


def _wait_for(condition, what, timeout=MAIL_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_no_canary_reaches_anyone_who_may_not_read_the_case(
    request,
    caplog,
    smtp_sink,
    celery_worker,  # after the sink: the worker stops (and finishes its tasks) before the sink
    maintainer,
    caseworker,
    second_caseworker,
    project,
    capsys,
):
    caplog.set_level(logging.DEBUG)
    canaries = _canaries()
    with CaptureQueriesContext(connection) as queries:
        case = _plant(
            canaries,
            maintainer=maintainer,
            caseworker=caseworker,
            second_caseworker=second_caseworker,
            project=project,
        )
    # SECURITY: the words are sealed before they reach the database, not by it.
    assert _found(canaries, *(q["sql"] for q in queries.captured_queries)) == [], [
        q["sql"][:300] for q in queries.captured_queries if _found(canaries, q["sql"])
    ]

    world = _world(
        case,
        maintainer=maintainer,
        caseworker=caseworker,
        second_caseworker=second_caseworker,
        project=project,
    )
    # The mail the writing caused goes out through the worker before the sweep begins (so the
    # sweep's empty POSTs to the subscription links cannot cancel it): two caseworkers told of
    # the maintainer's message, the maintainer of the reply, the colleague of the assignment,
    # one confirmation link, one notice delivery.
    try:
        _wait_for(lambda: len(smtp_sink.messages) >= 6, "the mails")
    except AssertionError:
        raise AssertionError(
            f"mail sent: {[m['To'] for m in smtp_sink.messages]}"
        ) from None

    urls, skipped = _urls(world)
    with capsys.disabled():
        print(
            f"\ncanary sweep: {len(urls)} URLs; skipped patterns: {skipped or 'none'}"
        )
    assert len(skipped) <= MAX_SKIPPED, skipped
    # The case's own URLs are all in the sweep.
    case_routes = {route for _, route in urls if "public_id" in route}
    assert {
        "cases/<uuid:public_id>/",
        "cases/<uuid:public_id>/files/<uuid:attachment_id>/",
        "cases/<uuid:public_id>/withdraw/",
    } <= case_routes

    superuser = UserFactory(email="root@example.org", is_superuser=True, is_staff=True)
    enrol(superuser)  # past the second-factor gate, so every admin page really renders
    people = {
        "anonymous": None,
        "superuser": superuser,
        **{
            role: request.getfixturevalue(role)
            for role in REFUSED_ROLES
            if role not in ("anonymous", "superuser")
        },
    }
    all_leaks, all_errors, statuses, total = [], [], {}, 0
    started = time.monotonic()
    for role in REFUSED_ROLES:
        leaks, errors, statuses[role] = _sweep(people[role], urls, canaries)
        all_leaks += [f"{role}: {leak}" for leak in leaks]
        all_errors += [f"{role}: {error}" for error in errors]
        total += len(statuses[role])
    with capsys.disabled():
        print(
            f"canary sweep: {total} requests as {len(REFUSED_ROLES)} roles in "
            f"{time.monotonic() - started:.1f}s"
        )
    assert all_leaks == []
    # The sweep got past the gates, so the pages that matter really rendered: the superuser
    # reached the admin, the caseworker's queue opened, and the case itself was a 404.
    detail = reverse("cases:detail", args=[case.public_id])
    assert statuses["superuser"]["get", reverse("admin:index")] == 200
    assert statuses["superuser"]["get", detail] == 404
    assert statuses["unassigned_caseworker"]["get", reverse("cases:queue")] == 200
    assert statuses["unassigned_caseworker"]["get", detail] == 404
    assert statuses["anonymous"]["get", detail] == 302
    # No 500s from anything a user can send (an error page could carry case text too).
    assert all_errors == []

    # Mail: everything queued so far has gone out through the worker; the sweep may add more.
    time.sleep(1.0)  # stragglers queued by the sweep
    texts = _mail_texts(smtp_sink.messages)
    assert _found(canaries, *texts) == []
    assert _found(canaries, *(m.message().as_bytes() for m in mail.outbox)) == []

    # Logs, from the first write to the last request, including the worker's.
    assert caplog.records, "nothing was logged at all: is capture working?"
    logged = [caplog.text] + [repr(vars(record)) for record in caplog.records]
    assert _found(canaries, *logged) == []
