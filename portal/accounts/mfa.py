"""The second-factor gate: caseworkers and staff open no case, notice review or admin page
before they have an authenticator app (TOTP) enrolled.

Who is held: signed-in caseworkers, staff members and superusers (`must_have_second_factor`).
What is held (`is_gated`): every URL in the `cases` and `admin` namespaces, the notices waiting
for approval, and any view behind `caseworker_required`, so a new caseworker page is covered the
day it is written. Everything else (sign-in, sign-out, account pages, public pages) stays open,
so enrolment itself is always reachable.

Signing in is allauth's job: a user with an authenticator is asked for a code (or a recovery
code) before the session is theirs. The gate only decides whether the account has one.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import Resolver404, ResolverMatch, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.accounts.roles import is_caseworker

GATED_NAMESPACES = frozenset({"cases", "admin"})
GATED_VIEW_NAMES = frozenset({"notices:review", "notices:approve"})
# Where the gate remembers the page to come back to while allauth's enrolment pages (which know
# nothing of `next`) run: activation posts to itself and then shows the recovery codes.
PENDING_NEXT_SESSION_KEY = "steady.mfa.next"
ENROL_URL_NAME = "mfa_activate_totp"
GATE_MESSAGE = (
    "Turn on two-factor authentication to continue: caseworkers and staff need an "
    "authenticator app before they can open cases, approve notices or use the admin."
)


def requires_second_factor(view):
    """Mark a view as held by the gate, wherever its URL lives (see `caseworker_required`)."""
    view.requires_second_factor = True
    return view


def must_have_second_factor(user) -> bool:
    """Caseworkers, staff and superusers must enrol; maintainers and stewards may."""
    return user.is_authenticated and (
        user.is_staff or user.is_superuser or is_caseworker(user)
    )


def has_second_factor(user) -> bool:
    """An active authenticator app. Recovery codes alone do not count: they only back one up."""
    return is_mfa_enabled(user, [Authenticator.Type.TOTP])


def is_gated(match: ResolverMatch) -> bool:
    return (
        bool(GATED_NAMESPACES.intersection(match.namespaces))
        or match.view_name in GATED_VIEW_NAMES
        or getattr(match.func, "requires_second_factor", False)
    )


def _safe_gated_next(request, url: str | None) -> str | None:
    """`url` if it is a local path to a gated page, else None (never an open redirect)."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    return url if is_gated(match) else None


def pending_next(request) -> str | None:
    """The gated page a newly enrolled user was on their way to, once they have enrolled."""
    url = request.session.get(PENDING_NEXT_SESSION_KEY)
    if url and has_second_factor(request.user):
        return url
    return None


class SecondFactorGateMiddleware:
    """Send a caseworker, staff member or superuser without TOTP from a gated page to enrolment.

    Runs after allauth's AccountMiddleware, once the URL is resolved (`process_view`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match.url_name == ENROL_URL_NAME and request.method == "GET":
            self._remember_next(request)
            return None
        if not is_gated(match) or not must_have_second_factor(request.user):
            return None
        if has_second_factor(request.user):
            request.session.pop(PENDING_NEXT_SESSION_KEY, None)
            return None
        # SECURITY: the gate comes before the view, so a refused request reads and changes
        # nothing. A POST is not replayed after enrolment; the person starts again from a page.
        messages.warning(request, GATE_MESSAGE)
        url = reverse(ENROL_URL_NAME)
        if request.method in ("GET", "HEAD"):
            url += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(url)

    @staticmethod
    def _remember_next(request) -> None:
        url = _safe_gated_next(request, request.GET.get("next"))
        if url and request.user.is_authenticated:
            request.session[PENDING_NEXT_SESSION_KEY] = url
