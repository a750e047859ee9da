"""The signed-in subscriber's webhook pages: register, secret shown once, log, rotate, redeliver."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.lib.webhooks import SECRET_PREFIX
from portal.notices import services
from portal.notices.models import Delivery, Subscription
from tests.factories import UserFactory
from tests.portal.notices.publishing import publish

pytestmark = pytest.mark.django_db

# A public address written as a literal, so registering it needs no DNS.
PUBLIC_URL = "https://93.184.215.14/steady/hooks"
WEBHOOKS = reverse("notices:webhooks")


@pytest.fixture
def subscriber(db):
    return UserFactory(email="dora@example.net", display_name="Dora Downstream")


@pytest.fixture
def signed_in(client, subscriber):
    client.force_login(subscriber)
    return client


@pytest.fixture
def webhook(subscriber):
    subscription, _secret = services.create_webhook(owner=subscriber, url=PUBLIC_URL)
    return subscription


@pytest.fixture
def delivery(webhook, caseworker, second_caseworker):
    revision = publish(caseworker, second_caseworker)
    return Delivery.objects.get(subscription=webhook, revision=revision)


def action_url(subscription, action):
    return reverse("notices:webhook_action", args=[subscription.public_id, action])


def detail_url(subscription):
    return reverse("notices:webhook", args=[subscription.public_id])


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(WEBHOOKS)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    response = client.post(WEBHOOKS, {"url": PUBLIC_URL, "filter_kind": "all"})
    assert response.status_code == 302
    assert not Subscription.objects.exists()


def test_registering_shows_the_secret_once_on_its_own_page(signed_in, subscriber):
    response = signed_in.post(
        WEBHOOKS,
        {"url": PUBLIC_URL, "filter_kind": "ecosystem", "filter_value": "PyPI"},
    )

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "notices/webhook_secret.html"
    assert response["Cache-Control"] == "no-store"
    webhook = Subscription.objects.get(owner=subscriber)
    (secret,) = webhook.secrets
    assert secret.startswith(SECRET_PREFIX)
    assert secret in response.content.decode()
    assert webhook.channel == Subscription.Channel.WEBHOOK
    assert webhook.status == Subscription.Status.ACTIVE
    assert (webhook.url, webhook.filter_kind, webhook.filter_value) == (
        PUBLIC_URL,
        "ecosystem",
        "pypi",
    )
    assert AuditEvent.objects.filter(action="webhook.created").count() == 1

    # Never again: neither the list nor the detail page carries it.
    for url in (WEBHOOKS, detail_url(webhook)):
        page = signed_in.get(url)
        assert page.status_code == 200
        assert secret not in page.content.decode()
        assert PUBLIC_URL in page.content.decode()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://93.184.215.14/hooks", "must start with https://"),
        ("https://10.1.2.3/hooks", "a private address"),
        ("https://127.0.0.1:8443/hooks", "a loopback address"),
        ("https://169.254.169.254/latest", "cloud metadata address"),
        ("https://[::1]/hooks", "a loopback address"),
        ("https://user:pw@93.184.215.14/hooks", "user name or password"),
        ("https://93.184.215.14/" + "a" * 2000, "at most 2000 characters"),
        ("not a url", "https://"),
    ],
)
def test_bad_webhook_url_is_refused_with_a_message_and_nothing_written(
    signed_in, url, message
):
    events = AuditEvent.objects.count()

    response = signed_in.post(WEBHOOKS, {"url": url, "filter_kind": "all"})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Subscription.objects.exists()
    assert AuditEvent.objects.count() == events


def test_unknown_ecosystem_filter_is_refused(signed_in):
    response = signed_in.post(
        WEBHOOKS,
        {"url": PUBLIC_URL, "filter_kind": "ecosystem", "filter_value": "cobol-hub"},
    )
    assert response.status_code == 400
    assert "is not an ecosystem Steady knows" in response.content.decode()
    assert not Subscription.objects.exists()


def test_list_shows_only_your_own_webhooks(signed_in, webhook, stranger):
    services.create_webhook(owner=stranger, url="https://93.184.215.14/strangers-hook")

    response = signed_in.get(WEBHOOKS)

    assert response.status_code == 200
    assert PUBLIC_URL in response.content.decode()
    assert "strangers-hook" not in response.content.decode()


def test_delivery_log_shows_status_attempts_and_last_answer(signed_in, delivery):
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.PENDING,
        attempts=3,
        last_status_code=503,
        last_error="HTTP 503: receiver overloaded",
    )

    response = signed_in.get(detail_url(delivery.subscription))

    body = response.content.decode()
    assert response.status_code == 200
    assert delivery.revision.notice.reference in body
    assert delivery.webhook_id in body
    assert "HTTP 503" in body
    assert "receiver overloaded" in body
    assert "<td>3</td>" in body
    assert "Pending" in body


def test_delivery_log_takes_the_same_queries_for_one_or_many_deliveries(
    signed_in, webhook, caseworker, second_caseworker
):
    publish(caseworker, second_caseworker, project_name="first-lib")
    url = detail_url(webhook)
    signed_in.get(
        url
    )  # the session and content types are cached after the first request
    with CaptureQueriesContext(connection) as one:
        assert signed_in.get(url).status_code == 200
    for n in range(5):
        publish(caseworker, second_caseworker, project_name=f"more-lib-{n}")
    assert webhook.deliveries.count() == 6

    with CaptureQueriesContext(connection) as six:
        response = signed_in.get(url)

    assert response.status_code == 200
    assert response.content.decode().count("msg_") == 6
    assert len(six) == len(one)


def test_another_users_webhook_is_a_404_for_every_page_and_action(
    client, stranger, webhook, delivery
):
    client.force_login(stranger)
    secrets = list(webhook.secrets)

    assert client.get(detail_url(webhook)).status_code == 404
    for action in ("rotate", "retire", "remove", "enable"):
        assert client.post(action_url(webhook, action)).status_code == 404
    response = client.post(reverse("notices:redeliver", args=[delivery.public_id]))
    assert response.status_code == 404

    webhook.refresh_from_db()
    assert webhook.secrets == secrets
    assert webhook.status == Subscription.Status.ACTIVE
    assert not AuditEvent.objects.filter(actor=stranger).exists()


def test_unknown_webhook_and_delivery_ids_are_404(signed_in):
    missing = "0b7a3c9e-8f61-4d1e-9d65-0a4f1f2d3c4b"
    assert signed_in.get(f"{WEBHOOKS}{missing}/").status_code == 404
    assert signed_in.post(f"{WEBHOOKS}{missing}/remove/").status_code == 404
    assert (
        signed_in.post(f"/notices/deliveries/{missing}/redeliver/").status_code == 404
    )


def test_actions_refuse_get(signed_in, webhook):
    response = signed_in.get(action_url(webhook, "remove"))
    assert response.status_code == 405
    webhook.refresh_from_db()
    assert webhook.status == Subscription.Status.ACTIVE


def test_unknown_action_changes_nothing(signed_in, webhook):
    response = signed_in.post(action_url(webhook, "explode"))
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.status == Subscription.Status.ACTIVE
    assert len(webhook.secrets) == 1


def test_rotation_shows_the_new_secret_once_and_signs_with_both_until_retired(
    signed_in, webhook
):
    (old,) = webhook.secrets

    response = signed_in.post(action_url(webhook, "rotate"))

    assert response.status_code == 200
    webhook.refresh_from_db()
    new, still_old = webhook.secrets
    assert still_old == old
    assert new != old
    assert new in response.content.decode()
    assert old not in response.content.decode()
    detail = signed_in.get(detail_url(webhook)).content.decode()
    assert new not in detail
    assert "Retire the old secret" in detail

    # A second rotation before retiring would leave a secret nobody was shown signing.
    response = signed_in.post(action_url(webhook, "rotate"), follow=True)
    assert "A rotation is already under way" in response.content.decode()
    webhook.refresh_from_db()
    assert webhook.secrets == [new, old]

    response = signed_in.post(action_url(webhook, "retire"), follow=True)
    assert "only the new one signs" in response.content.decode()
    webhook.refresh_from_db()
    assert webhook.secrets == [new]


def test_retiring_without_a_rotation_is_refused(signed_in, webhook):
    secrets = list(webhook.secrets)
    response = signed_in.post(action_url(webhook, "retire"), follow=True)
    assert "There is no old secret to retire." in response.content.decode()
    webhook.refresh_from_db()
    assert webhook.secrets == secrets


def test_removing_stops_pending_deliveries_and_turning_back_on_resumes(
    signed_in, webhook, delivery
):
    assert delivery.status == Delivery.Status.PENDING

    response = signed_in.post(action_url(webhook, "remove"), follow=True)

    assert "The webhook is removed" in response.content.decode()
    webhook.refresh_from_db()
    delivery.refresh_from_db()
    assert webhook.status == Subscription.Status.DISABLED
    assert delivery.status == Delivery.Status.FAILED
    assert "Turn it back on" in response.content.decode()

    response = signed_in.post(action_url(webhook, "enable"), follow=True)
    assert "The webhook is on again." in response.content.decode()
    webhook.refresh_from_db()
    assert webhook.status == Subscription.Status.ACTIVE


def test_turning_on_a_webhook_whose_url_is_no_longer_allowed_is_refused(
    signed_in, webhook, settings
):
    Subscription.objects.filter(pk=webhook.pk).update(
        url="https://10.0.0.8/hook", status=Subscription.Status.DISABLED
    )
    response = signed_in.post(action_url(webhook, "enable"), follow=True)
    assert "a private address" in response.content.decode()
    webhook.refresh_from_db()
    assert webhook.status == Subscription.Status.DISABLED


def test_redeliver_queues_a_finished_delivery_again_with_the_same_webhook_id(
    signed_in, delivery
):
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED, attempts=8, last_error="HTTP 500"
    )
    webhook_id = delivery.webhook_id

    response = signed_in.post(
        reverse("notices:redeliver", args=[delivery.public_id]), follow=True
    )

    assert "queued again, with the same webhook-id" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.webhook_id == webhook_id
    assert delivery.next_attempt_at is not None
    assert AuditEvent.objects.filter(action="delivery.redelivered").count() == 1


def test_redeliver_refuses_a_delivery_already_on_its_way(signed_in, delivery):
    response = signed_in.post(
        reverse("notices:redeliver", args=[delivery.public_id]), follow=True
    )
    assert "already on its way" in response.content.decode()
    assert not AuditEvent.objects.filter(action="delivery.redelivered").exists()


def test_redeliver_refuses_while_the_webhook_is_off(signed_in, webhook, delivery):
    services.remove_webhook(subscription=webhook, actor=webhook.owner)
    response = signed_in.post(
        reverse("notices:redeliver", args=[delivery.public_id]), follow=True
    )
    assert (
        "Turn the webhook on before asking for a redelivery."
        in response.content.decode()
    )
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
