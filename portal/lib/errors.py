from django.core.exceptions import ValidationError


class Refused(ValidationError):
    """A service said no. The message says why and what to do instead; nothing was written."""
