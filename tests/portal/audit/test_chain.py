import pytest
from django.db import connection

from portal.audit.models import AuditEvent
from portal.audit.services import GENESIS, record_event

pytestmark = pytest.mark.django_db


def test_events_are_chained_by_hash(maintainer, project):
    first = record_event(
        actor=maintainer, action="thing.done", obj=project, source_ip="192.0.2.1"
    )
    second = record_event(actor=None, action="thing.undone", obj=project)
    events = list(AuditEvent.objects.filter(pk__in=[first.pk, second.pk]))
    assert events[1].prev_hash == events[0].hash
    for event in events:
        assert event.hash == event.compute_hash()
    assert AuditEvent.objects.order_by("id").first().prev_hash == GENESIS


@pytest.mark.skipif(
    connection.vendor == "postgresql",
    reason="PostgreSQL refuses the UPDATE itself (tests/portal/audit/test_verify.py covers both)",
)
def test_editing_an_event_breaks_its_hash(maintainer, project):
    event = record_event(actor=maintainer, action="thing.done", obj=project)
    AuditEvent.objects.filter(pk=event.pk).update(action="thing.hidden")
    event.refresh_from_db()
    assert event.hash != event.compute_hash()


def test_objects_are_named_by_public_id(maintainer, project):
    event = record_event(actor=maintainer, action="thing.done", obj=project)
    assert (event.object_type, event.object_id) == (
        "projects.project",
        str(project.public_id),
    )
