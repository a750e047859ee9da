"""The mail Steady sends to subscribers. Only public notice fields ever reach these templates."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from portal.notices.models import HandoverNotice, Subscription
from portal.notices.tokens import make_confirm_token, make_unsubscribe_token


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _message(
    name: str, context: dict, to: str, headers: dict | None = None
) -> EmailMultiAlternatives:
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}_body.txt", context),
        to=[to],
        headers=headers or {},
    )
    message.attach_alternative(
        render_to_string(f"emails/{name}_body.html", context), "text/html"
    )
    return message


def confirmation_email(subscription: Subscription) -> EmailMultiAlternatives:
    token = make_confirm_token(subscription)
    context = {
        "confirm_url": _absolute(reverse("notices:confirm", args=[token])),
        "max_age_days": settings.SUBSCRIPTION_CONFIRM_MAX_AGE // 86400,
    }
    return _message("subscription_confirm", context, subscription.email)


def notice_email(
    notice: HandoverNotice, subscription: Subscription
) -> EmailMultiAlternatives:
    unsubscribe_url = _absolute(
        reverse("notices:unsubscribe", args=[make_unsubscribe_token(subscription)])
    )
    context = {
        "notice": notice,
        "notice_url": _absolute(reverse("notices:detail", args=[notice.reference])),
        "unsubscribe_url": unsubscribe_url,
    }
    # RFC 8058: mail clients offer one-click unsubscribe by POSTing to this address.
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return _message("notice_published", context, subscription.email, headers)
