from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from portal.accounts import roles


class AccountAdapter(DefaultAccountAdapter):
    """Everyone who signs up is a maintainer; other roles are granted by the foundation."""

    @transaction.atomic
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            roles.grant_role(user, roles.MAINTAINER)
        return user
