"""Who may see and do what with a case. Every case read starts here.

Reading a case needs `cases.view_case` on that case; working on it as a caseworker needs
`cases.work_case` too. Both are object permissions granted and revoked only by `cases.services`.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from cases.models import (
    Assignment,
    AssignmentExtension,
    Case,
    CaseworkerConflict,
    StewardRequest,
)
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


# --- Steward assignments ------------------------------------------------------------------------


def _steward_sees():
    # A steward sees an assignment once the maintainer has accepted them; a proposal the
    # maintainer has not answered, or declined, is not theirs to read.
    return (
        Assignment.Status.AWAITING_APPROVAL,
        Assignment.Status.ACTIVE,
        Assignment.Status.ENDED,
    )


def assignments_visible_to(user) -> QuerySet:
    """Assignments `user` may open: those on cases they can read, and their own as a steward
    once accepted. The brief page shows only what the maintainer chose to share.

    SECURITY: one filter(Q | Q) over the two sets, so the steward branch never widens the case
    branch (and the other way round).
    """
    if not user.is_authenticated or not user.is_active:
        return Assignment.objects.none()
    visible_cases = cases_visible_to(user).values("pk")
    return Assignment.objects.filter(
        Q(case__in=visible_cases)
        | Q(
            steward__user=user,
            status__in=_steward_sees(),
            responded_at__isnull=False,
        )
    )


def get_assignment_for(user, public_id):
    """The assignment, if `user` may open it; otherwise the same 404 as for none at all."""
    assignment = (
        assignments_visible_to(user)
        .select_related("case", "case__project", "request", "steward", "steward__user")
        .filter(public_id=public_id)
        .first()
    )
    if assignment is None:
        raise Http404("No such assignment.")
    return assignment


def get_steward_request_for(user, public_id, perm: str = WORK):
    """A steward request on a case `user` holds `perm` on; anything else is a 404."""
    request = (
        StewardRequest.objects.filter(
            case__in=cases_visible_to(user, perm).values("pk"), public_id=public_id
        )
        .select_related("case", "case__project")
        .first()
    )
    if request is None:
        raise Http404("No such request.")
    return request


def approvals_for(user):
    """Release-scope assignments and extensions awaiting a second caseworker, except those
    `user` proposed. Caseworkers only; they show project, steward, scope and period, no case text."""
    if not is_caseworker(user):
        return Assignment.objects.none(), AssignmentExtension.objects.none()
    # Nor those on projects `user` declared a conflict with: they may not approve them.
    conflicted = CaseworkerConflict.objects.filter(caseworker=user).values("project_id")
    assignments = (
        Assignment.objects.filter(status=Assignment.Status.AWAITING_APPROVAL)
        .exclude(proposed_by=user)
        .exclude(case__project_id__in=conflicted)
        .select_related("case__project", "steward", "proposed_by")
    )
    extensions = (
        AssignmentExtension.objects.filter(
            status=AssignmentExtension.Status.AWAITING_APPROVAL
        )
        .exclude(proposed_by=user)
        .exclude(assignment__case__project_id__in=conflicted)
        .select_related(
            "assignment__case__project", "assignment__steward", "proposed_by"
        )
    )
    return assignments, extensions


def get_for_approval(user, public_id):
    """An assignment awaiting approval, for a caseworker who may approve it; else 404."""
    if not is_caseworker(user):
        raise Http404("No such assignment.")
    assignment = (
        Assignment.objects.filter(
            status=Assignment.Status.AWAITING_APPROVAL, public_id=public_id
        )
        .select_related("case", "request", "steward")
        .first()
    )
    if assignment is None:
        raise Http404("No such assignment.")
    return assignment


def get_extension_for_approval(user, public_id):
    if not is_caseworker(user):
        raise Http404("No such extension.")
    extension = (
        AssignmentExtension.objects.filter(
            status=AssignmentExtension.Status.AWAITING_APPROVAL, public_id=public_id
        )
        .select_related("assignment")
        .first()
    )
    if extension is None:
        raise Http404("No such extension.")
    return extension
