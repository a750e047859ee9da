"""The audit trail's hash chain is checked end to end, and PostgreSQL refuses to rewrite it.

Tampering is done with raw SQL, as someone with database access would. On PostgreSQL the
append-only trigger is first switched off for the statement, as a database superuser could: the
chain must catch what gets past the trigger.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from portal.audit import verify
from portal.audit.management.commands.verify_audit import Command
from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from portal.audit.verify import check_chain, verify_chain

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's"
)


@pytest.fixture
def events(maintainer, project):
    """Six events in the chain (the project's registration and five more), oldest first."""
    for n in range(5):
        record_event(
            actor=maintainer if n % 2 else None,
            action=f"thing.done{n}",
            obj=project,
            source_ip="192.0.2.1" if n % 2 else "2001:DB8:0:0::1",
            data={"n": n, "note": "ü"},
        )
    rows = list(AuditEvent.objects.order_by("id"))
    assert len(rows) == 6
    return rows


def _raw(sql, params):
    """Run `sql` as a database superuser switching the trigger off would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def test_intact_chain_verifies(events):
    assert verify_chain() is None
    result = check_chain(chunk_size=2)  # several round trips of the streaming cursor
    assert (result.checked, result.head_id, result.head_hash) == (
        6,
        events[-1].pk,
        events[-1].hash,
    )


def test_empty_trail_verifies(db):
    assert verify_chain() is None
    assert check_chain().checked == 0


def test_edited_row_is_reported(events):
    target = events[3]
    _raw(
        "UPDATE audit_auditevent SET action = %s WHERE id = %s",
        ["thing.hidden", target.pk],
    )
    broken = verify_chain()
    assert broken is not None
    assert (broken.event_id, broken.problem) == (target.pk, verify.EDITED)
    assert "edited" in str(broken)


def test_edit_with_recomputed_hash_is_reported_at_the_next_row(events):
    target = events[2]
    target.action = "thing.hidden"
    forged = target.compute_hash()
    _raw(
        "UPDATE audit_auditevent SET action = %s, hash = %s WHERE id = %s",
        ["thing.hidden", forged, target.pk],
    )
    broken = verify_chain()
    assert (broken.event_id, broken.problem) == (events[3].pk, verify.UNLINKED)
    assert f"#{target.pk}" in broken.detail


def test_deleted_middle_row_is_reported_as_a_gap(events):
    removed = events[3]
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [removed.pk])
    broken = verify_chain()
    assert (broken.event_id, broken.problem) == (events[4].pk, verify.UNLINKED)
    assert f"#{removed.pk}" in broken.detail and "missing" in broken.detail


def test_deleted_first_row_is_reported(events):
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[0].pk])
    broken = verify_chain()
    assert (broken.event_id, broken.problem) == (events[1].pk, verify.UNLINKED)
    assert "oldest" in broken.detail


def test_inserted_row_is_reported(events):
    """A forged row with a valid hash of its own, slipped in before the newest event."""
    forged = AuditEvent(
        action="thing.forged",
        object_type="projects.project",
        object_id="x",
        data={},
        created_at=events[4].created_at,
        prev_hash=events[4].hash,
    )
    forged.hash = forged.compute_hash()
    _raw(
        "UPDATE audit_auditevent SET id = %s WHERE id = %s",
        [events[-1].pk + 10, events[-1].pk],
    )
    forged.id = events[-1].pk
    forged.save(force_insert=True)
    broken = verify_chain()
    assert (broken.event_id, broken.problem) == (events[-1].pk + 10, verify.UNLINKED)


def test_deleting_the_newest_rows_changes_the_head_hash(events):
    """The chain alone cannot see a truncated tail; the head hash the command prints can."""
    head = check_chain().head_hash
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    result = check_chain()
    assert result.broken is None
    assert result.head_hash != head


def test_non_canonical_ipv6_address_does_not_look_edited(maintainer, project):
    """Regression: the hash was taken over the raw address, but the database stores (SQLite) or
    prints (PostgreSQL) it canonically, so an untouched row failed verification."""
    event = record_event(
        actor=maintainer, action="thing.done", obj=project, source_ip="2001:DB8:0:0::1"
    )
    event.refresh_from_db()
    assert event.source_ip == "2001:db8::1"
    assert verify_chain() is None


def test_command_reports_an_intact_chain_with_its_count(events):
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "intact: 6 events" in out.getvalue()
    assert events[-1].hash in out.getvalue()


def test_command_fails_naming_the_broken_row(events):
    _raw(
        "UPDATE audit_auditevent SET data = %s WHERE id = %s",
        ['{"n": 99}', events[2].pk],
    )
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit", stdout=StringIO())
    assert f"#{events[2].pk}" in str(excinfo.value)
    assert excinfo.value.returncode == 1


def test_command_line_exit_status_is_non_zero_on_a_broken_chain(
    events, monkeypatch, capsys
):
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    # run_from_argv closes every connection when it ends; keep the test's transaction alive.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)
    with pytest.raises(SystemExit) as excinfo:
        Command().run_from_argv(["manage.py", "verify_audit"])
    assert excinfo.value.code == 1
    assert f"audit event #{events[3].pk}" in capsys.readouterr().err


def test_command_line_exit_status_is_zero_when_intact(events, monkeypatch, capsys):
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)
    Command().run_from_argv(["manage.py", "verify_audit"])  # no SystemExit: status 0
    assert "intact: 6 events" in capsys.readouterr().out


@postgresql_only
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'thing.hidden' WHERE id = %s",
        "UPDATE audit_auditevent SET hash = hash WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_postgresql_refuses_to_update_or_delete_events(events, sql):
    with pytest.raises(IntegrityError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [events[2].pk])
    assert AuditEvent.objects.filter(pk=events[2].pk, action="thing.done1").exists()
    assert verify_chain() is None


@postgresql_only
def test_postgresql_refuses_orm_updates_and_deletes_too(events):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=events[1].pk).update(action="thing.hidden")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 6
    assert verify_chain() is None
