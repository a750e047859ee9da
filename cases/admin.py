"""Nothing from `cases` is registered in the Django admin.

SECURITY: a case is readable only by its maintainers and assigned caseworkers, superusers
included; even its metadata (which cases exist, their category and urgency) is not for the
admin. Caseworkers work cases in the portal, where `cases/access.py` decides.
"""
