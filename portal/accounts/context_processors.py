from portal.accounts.mfa import PENDING_NEXT_SESSION_KEY, pending_next
from portal.accounts.roles import CASEWORKER, MAINTAINER, STEWARD, has_role


def roles(request):
    user = request.user
    return {
        "is_caseworker": has_role(user, CASEWORKER),
        "is_maintainer": has_role(user, MAINTAINER),
        "is_steward": has_role(user, STEWARD),
    }


def second_factor(request):
    """After enrolment, the gated page the person was sent away from (no query on other pages)."""
    session = getattr(request, "session", None)
    if session is None or PENDING_NEXT_SESSION_KEY not in session:
        return {}
    return {"mfa_continue_url": pending_next(request)}
