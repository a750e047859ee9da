"""Who may use which kind of page. Object-level rules live in each app's `access.py`."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from portal.accounts.mfa import requires_second_factor
from portal.accounts.roles import is_caseworker


def caseworker_required(view):
    """Signed-in caseworkers only; anyone else signed in gets a 403 (the page is not a secret).

    The page is also held by the second-factor gate (`portal.accounts.mfa`): a caseworker
    without an authenticator app is sent to enrolment before the view runs.
    """

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_caseworker(request.user):
            raise PermissionDenied("This page is for the foundation's caseworkers.")
        return view(request, *args, **kwargs)

    return requires_second_factor(wrapper)
