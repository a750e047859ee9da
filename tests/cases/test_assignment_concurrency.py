"""Two caseworkers proposing the last free place of one steward at once: the second waits for
the first's lock and is refused for capacity. PostgreSQL only (SQLite has one writer)."""

import threading

import pytest
from django.db import connection, transaction

from cases import services
from cases.models import Assignment
from portal.lib.errors import Refused
from tests.cases.stewards import ask_for_steward, drop_broker_pools, make_steward

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs concurrent writers (PostgreSQL)",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def _fresh_broker_pools():
    # Real commits here run the proposal's mail task eagerly (see drop_broker_pools).
    yield
    drop_broker_pools()


def test_the_last_free_place_goes_to_one_proposal(case, maintainer, caseworker):
    single = make_steward("single", max_assignments=1)
    first = ask_for_steward(case, maintainer)
    second = ask_for_steward(case, maintainer)
    outcome = {}

    def propose_second():
        try:
            outcome["result"] = services.propose_assignment(
                request=second, steward=single, actor=caseworker
            )
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    other = threading.Thread(target=propose_second)
    with transaction.atomic():
        services.propose_assignment(request=first, steward=single, actor=caseworker)
        other.start()
        other.join(timeout=1)
        assert other.is_alive(), "the second proposal must wait for the first to commit"
    other.join(timeout=10)
    assert isinstance(outcome.get("error"), Refused), outcome
    assert "No free capacity" in outcome["error"].messages[0]
    assert Assignment.objects.count() == 1
