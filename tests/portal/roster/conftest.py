import pytest

from portal.accounts import roles
from tests.factories import (
    StewardProfileFactory,
    UserFactory,
    VettedStewardFactory,
    ssh_public_key_line,
)


def application(**overrides) -> dict:
    """Valid arguments for `apply_as_steward`, minus the user."""
    data = {
        "handle": "river",
        "forge_accounts": ["github:River-Dev", "codeberg:river"],
        "ecosystems": ["pypi", "npm"],
        "languages": ["English", "Español"],
        "skills": ["Python", "release engineering"],
        "time_zone": "America/Chicago",
        "hours_per_week": 6,
        "max_assignments": 2,
        "statement": "Core developer of two packaging tools since 2015.",
        "public_keys": [ssh_public_key_line()],
    }
    data.update(overrides)
    return data


@pytest.fixture
def applicant(db):
    """A steward who has applied: nothing checked yet."""
    return StewardProfileFactory(
        handle="newcomer", user=UserFactory(email="newcomer@example.org")
    )


@pytest.fixture
def voucher_a(db):
    user = UserFactory(email="ada@example.org")
    roles.grant_role(user, roles.STEWARD)
    return VettedStewardFactory(handle="ada", user=user)


@pytest.fixture
def voucher_b(db):
    user = UserFactory(email="bo@example.org")
    roles.grant_role(user, roles.STEWARD)
    return VettedStewardFactory(handle="bo", user=user)
