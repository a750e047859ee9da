from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache


@never_cache
def admin_login(request, extra_context=None):
    """Stands in for the admin's own login page, which is never shown.

    SECURITY: no side door. Django's admin form would check a password without allauth's rate
    limits or second factor, and would let a signed-in person sign in as someone else. Instead:
    anonymous visitors go to the portal's sign-in, staff go on (through the second-factor gate,
    which holds the whole `admin` namespace), and everyone else is refused.
    """
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("admin:index")
    if not request.user.is_authenticated:
        return redirect_to_login(target, login_url=reverse("account_login"))
    if not (request.user.is_active and request.user.is_staff):
        raise PermissionDenied("The admin is for the foundation's staff.")
    return HttpResponseRedirect(target)
