import pytest

from tests.portal.scrutiny.gitrepo import build_handover_repo


@pytest.fixture(scope="session")
def handover(tmp_path_factory):
    """One real repository with a month-long handover window, shared by the scrutiny tests."""
    return build_handover_repo(tmp_path_factory.mktemp("handover"))
