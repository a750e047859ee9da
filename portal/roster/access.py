"""Who may see which roster page. The roster holds no case data: "not a caseworker" is a plain
403 (from `caseworker_required`); an unknown steward is a 404."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from portal.roster.models import StewardProfile


def own_profile(user) -> StewardProfile | None:
    if not user.is_authenticated:
        return None
    return StewardProfile.objects.select_related("user").filter(user_id=user.pk).first()


def get_steward_for_caseworker(public_id) -> StewardProfile:
    """A steward's profile for a caseworker page (the caller is already a caseworker)."""
    steward = (
        StewardProfile.objects.select_related("user", "vetted_by", "hold_cleared_by")
        .filter(public_id=public_id)
        .first()
    )
    if steward is None:
        raise Http404("No such steward.")
    return steward


def get_vouchee_for(user, public_id) -> tuple[StewardProfile, StewardProfile]:
    """(voucher, vouchee) for the vouch page: only vetted stewards vouch, so only they see it.

    SECURITY: an applicant's statement and accounts are shown to vetted stewards asked to vouch,
    not to anyone holding the link.
    """
    voucher = own_profile(user)
    if voucher is None or voucher.status != StewardProfile.Status.VETTED:
        raise PermissionDenied("Only vetted stewards vouch for others.")
    vouchee = (
        StewardProfile.objects.select_related("user")
        .prefetch_related("keys")
        .filter(public_id=public_id)
        .first()
    )
    if vouchee is None:
        raise Http404("No such steward.")
    return voucher, vouchee
