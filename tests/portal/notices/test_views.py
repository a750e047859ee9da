import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.notices.models import Delivery, HandoverNotice, Subscription
from portal.notices.tokens import make_confirm_token, make_unsubscribe_token
from tests.factories import SubscriptionFactory
from tests.portal.notices.conftest import publish

pytestmark = pytest.mark.django_db

ATOM = {"atom": "http://www.w3.org/2005/Atom"}
SUBSCRIBE_ANSWER = "Check your inbox: we sent a confirmation link"


def _awaiting(notice):
    return notice.revisions.get(state="awaiting_approval")


def _client_for(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# --- public pages -----------------------------------------------------------------------------


def test_list_shows_published_notices_only(client, published_notice, draft_notice):
    response = client.get(reverse("notices:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert published_notice.reference in html
    assert "published-lib" in html
    assert "draftonly-lib" not in html


def test_detail_shows_a_published_notice(client, published_notice):
    response = client.get(f"/notices/{published_notice.reference}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        f"{published_notice.reference}: published-lib is in a handover window" in html
    )
    assert "Only releases signed by the interim steward" in html
    assert "stella-ruiz" in html
    assert f"/notices/{published_notice.reference}/revisions/1.json" in html


def test_a_draft_has_no_public_page(client, draft_notice):
    # Drafts have no reference; nothing that names one finds it.
    for anything in (
        draft_notice.public_id,
        draft_notice.project_name,
        draft_notice.pk,
        "None",
    ):
        response = client.get(f"/notices/{anything}/")
        assert response.status_code == 404, anything
        assert "draftonly-lib" not in response.content.decode(), anything


def test_atom_feed_lists_published_notices_and_never_a_draft(
    client, caseworker, second_caseworker, draft_notice
):
    first = publish(caseworker, second_caseworker, project_name="first-lib")
    second = publish(caseworker, second_caseworker, project_name="second-lib")
    response = client.get(reverse("notices:feed"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    entries = {
        entry.findtext("atom:id", namespaces=ATOM): entry.findtext(
            "atom:title", namespaces=ATOM
        )
        for entry in root.findall("atom:entry", ATOM)
    }
    assert entries == {
        f"urn:uuid:{first.public_id}": f"{first.reference}: first-lib is in a handover window",
        f"urn:uuid:{second.public_id}": f"{second.reference}: second-lib is in a handover window",
    }
    assert str(draft_notice.public_id) not in response.content.decode()
    assert "draftonly-lib" not in response.content.decode()
    links = [
        e.find("atom:link", ATOM).get("href") for e in root.findall("atom:entry", ATOM)
    ]
    assert all(link.startswith("http") for link in links)
    assert any(link.endswith(f"/notices/{first.reference}/") for link in links)


def test_list_query_count_is_the_same_at_3_and_30_notices(
    client, caseworker, second_caseworker, django_assert_max_num_queries
):
    counts = []
    for target in (3, 30):
        while HandoverNotice.objects.count() < target:
            publish(
                caseworker,
                second_caseworker,
                project_name=f"lib-{HandoverNotice.objects.count()}",
            )
        with django_assert_max_num_queries(2) as captured:
            assert client.get(reverse("notices:list")).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


# --- subscribing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "message"),
    [("not-an-email", "Enter a valid email address."), ("", "This field is required.")],
)
def test_subscribe_with_a_bad_address_is_400_and_writes_nothing(client, email, message):
    response = client.post(reverse("notices:subscribe"), {"email": email})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Subscription.objects.exists()


def test_subscribe_redirects_with_a_message_and_creates_a_pending_row(client):
    response = client.post(
        reverse("notices:subscribe"), {"email": "reader@example.net"}, follow=True
    )
    assert response.redirect_chain == [(reverse("notices:list"), 302)]
    assert SUBSCRIBE_ANSWER in response.content.decode()
    assert list(Subscription.objects.values_list("email", "status")) == [
        ("reader@example.net", Subscription.Status.PENDING)
    ]


def test_subscribe_answers_the_same_for_an_active_address(client):
    SubscriptionFactory(email="reader@example.net")
    response = client.post(
        reverse("notices:subscribe"), {"email": "reader@example.net"}, follow=True
    )
    assert response.redirect_chain == [(reverse("notices:list"), 302)]
    assert SUBSCRIBE_ANSWER in response.content.decode()
    assert list(Subscription.objects.values_list("status", flat=True)) == [
        Subscription.Status.ACTIVE
    ]


@pytest.fixture
def pending():
    return SubscriptionFactory(
        email="reader@example.net", status=Subscription.Status.PENDING
    )


def _confirm_url(subscription):
    return reverse("notices:confirm", args=[make_confirm_token(subscription)])


def test_opening_the_confirmation_link_changes_nothing(client, pending):
    response = client.get(_confirm_url(pending))
    assert response.status_code == 200
    assert "Confirm subscription" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.PENDING
    assert pending.confirmed_at is None
    assert not AuditEvent.objects.exists()


def test_pressing_confirm_activates_the_subscription(client, pending):
    response = client.post(_confirm_url(pending), follow=True)
    assert response.redirect_chain == [(reverse("notices:list"), 302)]
    assert "Your subscription is confirmed" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.ACTIVE


def test_expired_confirmation_link_shows_why_and_changes_nothing(
    client, pending, settings
):
    url = _confirm_url(pending)
    settings.SUBSCRIPTION_CONFIRM_MAX_AGE = -1
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 400
        assert "This confirmation link has expired" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.PENDING


def test_used_confirmation_link_shows_why_and_changes_nothing(client, pending):
    url = _confirm_url(pending)
    client.post(url)
    pending.refresh_from_db()
    confirmed_at = pending.confirmed_at
    assert confirmed_at is not None
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 400
        assert "already been used" in response.content.decode()
    pending.refresh_from_db()
    assert pending.confirmed_at == confirmed_at
    assert AuditEvent.objects.filter(action="subscription.confirmed").count() == 1


def test_tampered_confirmation_link_is_400(client, pending):
    url = _confirm_url(pending).rstrip("/") + "x/"
    assert client.get(url).status_code == 400
    assert client.post(url).status_code == 400
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.PENDING


# --- unsubscribing ----------------------------------------------------------------------------


def test_unsubscribe_link_shows_a_button_and_changes_nothing(client):
    subscription = SubscriptionFactory()
    response = client.get(
        reverse("notices:unsubscribe", args=[make_unsubscribe_token(subscription)])
    )
    assert response.status_code == 200
    assert '<button type="submit">Unsubscribe</button>' in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE


def test_one_click_unsubscribe_needs_no_csrf_token(published_notice):
    subscription = SubscriptionFactory()
    delivery = Delivery.objects.create(
        subscription=subscription, revision=published_notice.latest_revision
    )
    mail_provider = Client(enforce_csrf_checks=True)
    # The client does enforce CSRF: an ordinary form without a token is refused.
    assert (
        mail_provider.post(
            reverse("notices:subscribe"), {"email": "x@example.net"}
        ).status_code
        == 403
    )

    response = mail_provider.post(
        reverse("notices:unsubscribe", args=[make_unsubscribe_token(subscription)]),
        {"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    subscription.refresh_from_db()
    delivery.refresh_from_db()
    assert subscription.status == Subscription.Status.UNSUBSCRIBED
    assert delivery.status == Delivery.Status.FAILED


def test_tampered_unsubscribe_link_is_400(client):
    subscription = SubscriptionFactory()
    url = reverse(
        "notices:unsubscribe", args=[make_unsubscribe_token(subscription) + "x"]
    )
    assert client.get(url).status_code == 400
    assert client.post(url).status_code == 400
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE


# --- review and approval ----------------------------------------------------------------------

REVIEW, APPROVE = "review", "approve"


@pytest.mark.parametrize(
    ("page", "role", "expected"),
    [
        (REVIEW, None, "login"),
        (REVIEW, "stranger", 403),
        (REVIEW, "maintainer", 403),
        (REVIEW, "steward", 403),
        (REVIEW, "caseworker", 200),
        (APPROVE, None, "login"),
        (APPROVE, "stranger", 403),
        (APPROVE, "maintainer", 403),
        (APPROVE, "steward", 403),
        (APPROVE, "second_caseworker", 302),
    ],
)
def test_review_access(request, draft_notice, page, role, expected):
    user = request.getfixturevalue(role) if role else None
    client = _client_for(user)
    if page == REVIEW:
        url = reverse("notices:review")
        response = client.get(url)
    else:
        url = reverse("notices:approve", args=[_awaiting(draft_notice).public_id])
        response = client.post(url)
    if expected == "login":
        assert response.status_code == 302
        assert response.url == f"{reverse('account_login')}?next={url}"
    else:
        assert response.status_code == expected
    draft_notice.refresh_from_db()
    published = page == APPROVE and expected == 302
    assert draft_notice.is_published is published
    if page == REVIEW and expected == 200:
        assert "draftonly-lib" in response.content.decode()


def test_drafter_cannot_approve_through_the_page(draft_notice, caseworker):
    SubscriptionFactory()
    response = _client_for(caseworker).post(
        reverse("notices:approve", args=[_awaiting(draft_notice).public_id])
    )
    assert response.status_code == 400
    # As a message, not the page's standing hint beside the drafter's own notices.
    assert (
        '<li class="message error">You drafted this revision; another caseworker must approve it.</li>'
        in response.content.decode()
    )
    draft_notice.refresh_from_db()
    assert draft_notice.status == HandoverNotice.Status.AWAITING_APPROVAL
    assert draft_notice.reference is None
    assert not Delivery.objects.exists()


def test_second_caseworker_approves_and_lands_on_the_notice(
    draft_notice, second_caseworker
):
    SubscriptionFactory()
    response = _client_for(second_caseworker).post(
        reverse("notices:approve", args=[_awaiting(draft_notice).public_id]),
        follow=True,
    )
    reference = f"HN-{timezone.now().year}-0001"
    assert response.redirect_chain == [
        (reverse("notices:detail", args=[reference]), 302)
    ]
    assert (
        f"{reference} revision 1 is published and signed." in response.content.decode()
    )
    draft_notice.refresh_from_db()
    assert draft_notice.reference == reference
    assert draft_notice.latest_revision.approved_by == second_caseworker
    assert Delivery.objects.filter(revision__notice=draft_notice).count() == 1


def test_approve_by_get_is_405(draft_notice, second_caseworker):
    response = _client_for(second_caseworker).get(
        reverse("notices:approve", args=[_awaiting(draft_notice).public_id])
    )
    assert response.status_code == 405
    draft_notice.refresh_from_db()
    assert not draft_notice.is_published


def test_approving_a_published_notice_is_404(published_notice, unassigned_caseworker):
    response = _client_for(unassigned_caseworker).post(
        reverse("notices:approve", args=[published_notice.latest_revision.public_id])
    )
    assert response.status_code == 404
    published_notice.refresh_from_db()
    assert published_notice.latest_revision.approved_by != unassigned_caseworker


@pytest.mark.parametrize(
    "path",
    [
        "/notices/HN%00/",
        "/notices/HN-2026-0001%00/revisions/1.json",
        "/notices/?q=a%00b",
        "/notices/project/a%00b/feed.atom",
        "/notices/project/" + "x" * 200 + "/feed.atom",
    ],
)
def test_control_characters_in_a_url_are_a_404_or_ignored_never_a_500(client, path):
    response = client.get(path)
    assert response.status_code in (200, 404)


def test_review_page_shows_what_a_revision_adds_and_that_it_will_wait(
    caseworker, second_caseworker, published_notice
):
    from portal.notices import services
    from portal.notices.content import parse_stewards
    from tests.portal.notices.conftest import content

    services.propose_revision(
        notice=published_notice,
        actor=caseworker,
        kind="amendment",
        content=content(
            project_name="published-lib",
            stewards=parse_stewards("newcomer | Nia Newcomer | github:nia"),
        ),
    )
    html = (
        _client_for(second_caseworker).get(reverse("notices:review")).content.decode()
    )
    assert "steward newcomer" in html
    assert "forge account github:nia" in html
    assert "21-day public objection period" in html


def test_objections_are_read_behind_the_caseworker_pages_not_on_the_public_one(
    client, caseworker, second_caseworker
):
    from tests.portal.notices.conftest import publish as publish_notice

    notice = publish_notice(caseworker, second_caseworker)  # no consent: pending
    detail = reverse("notices:detail", args=[notice.reference])
    page = client.get(detail).content.decode()
    assert "proposed handover, not yet in effect" in page
    response = client.post(
        reverse("notices:object", args=[notice.reference, 1]),
        {
            "name": "Dana",
            "email": "dana@example.net",
            "reason": "Unknown steward zq-7731",
        },
        follow=True,
    )
    assert "Your objection is recorded" in response.content.decode()
    assert "zq-7731" not in _client_for(caseworker).get(detail).content.decode()
    review = _client_for(caseworker).get(reverse("notices:review")).content.decode()
    assert "zq-7731" in review
