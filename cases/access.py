"""Who may see and do what with a case. Every case read starts here.

Reading a case needs `cases.view_case` on that case; working on it as a caseworker needs
`cases.work_case` too. Both are object permissions granted and revoked only by `cases.services`.
"""

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from cases.models import Case
from cases.states import OPEN
from portal.accounts.roles import is_caseworker

VIEW = "cases.view_case"
WORK = "cases.work_case"


def cases_visible_to(user, perm: str = VIEW) -> QuerySet[Case]:
    """The cases `user` may read (or, with perm=WORK, work on). Every list, count and search starts here.

    SECURITY: global permissions and superuser status grant nothing; only object permissions count.
    """
    if not user.is_authenticated or not user.is_active:
        return Case.objects.none()
    return get_objects_for_user(
        user, perm, klass=Case, accept_global_perms=False, with_superuser=False
    )


def get_case_for(user, public_id, perm: str = VIEW) -> Case:
    """The case, if `user` holds `perm` on it. "No such case" and "not yours" are the same 404."""
    case = (
        cases_visible_to(user, perm)
        .select_related("project")
        .filter(public_id=public_id)
        .first()
    )
    if case is None:
        raise Http404("No such case.")
    return case


def _unassigned() -> Exists:
    return ~Exists(Case.caseworkers.through.objects.filter(case_id=OuterRef("pk")))


def triage_pool_for(user) -> QuerySet[Case]:
    """Open cases nobody has taken yet. Caseworkers see their metadata (never their words) to pick them up."""
    if not is_caseworker(user):
        return Case.objects.none()
    return Case.objects.filter(_unassigned(), status__in=OPEN)


def get_unassigned_case_for(user, public_id) -> Case:
    """A case in the triage pool, for a caseworker taking it. Anything else is a 404."""
    case = triage_pool_for(user).filter(public_id=public_id).first()
    if case is None:
        raise Http404("No such case.")
    return case


def can(user, action: str, case: Case) -> bool:
    """For showing buttons: may `user` do `action` ("work", "post") on a case they can read?"""
    if action == "work":
        return user.has_perm(WORK, case)
    if action == "post":
        return user.has_perm(VIEW, case)
    if action == "maintain":
        # The case's own maintainers: the opener and co-maintainers (not its caseworkers).
        return (
            user.pk == case.opened_by_id
            or case.co_maintainers.filter(pk=user.pk).exists()
        )
    raise ValueError(f"unknown action {action!r}")


def get_attachment_for(user, case_public_id, attachment_public_id):
    """A file on a case `user` can read; internal files only for the case's caseworkers.
    Anything else is the same 404."""
    case = get_case_for(user, case_public_id)
    attachments = case.attachments.all()
    if not user.has_perm(WORK, case):
        attachments = attachments.filter(is_internal=False)
    attachment = attachments.filter(public_id=attachment_public_id).first()
    if attachment is None:
        raise Http404("No such file.")
    attachment.case = case
    return attachment
