"""The roster's one question to case work: are these identities of concern?

`cases.screening.screen_identities` answers yes or no with a reason code, records alerts for the
caseworkers of the matching cases, and never returns case data. The roster only ever sees the
verdict, so no case fact reaches a roster page, mail or audit row.
"""

from collections.abc import Iterable

APPLICATION = "roster-application"
VOUCH = "vouch"
DEFAULT_REASON = "identity-of-concern"


def screen(*, identities: Iterable[str], source: str, subject: str):
    """The verdict on `identities` (normalised strings such as `github:name`)."""
    # Imported here, not at module level: case work imports the roster's models, and the roster
    # must not load case work while its own models are being set up.
    from cases.screening import screen_identities

    return screen_identities(
        identities=list(identities), source=source, subject=subject
    )
