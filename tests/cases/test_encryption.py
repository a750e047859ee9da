"""Case words at rest: nothing readable in the database or on disk, ciphertext bound to its row,
master keys that rotate, and withdrawal that destroys the key.

Everything is written through the real pages (the client), then read back with raw SQL and
from the files themselves, as someone holding a database dump or a disk image would.
"""

import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from cases import crypto, selectors, services
from cases.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    CaseMessage,
    Category,
    HelpWanted,
    Urgency,
)
from cases.states import Status
from portal.audit.models import AuditEvent
from portal.audit.verify import verify_chain
from portal.lib.crypto import CryptoError, new_key
from portal.lib.errors import Refused

pytestmark = pytest.mark.django_db


def _canary(kind: str) -> str:
    return f"canary-{kind}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def canaries():
    return {
        kind: _canary(kind)
        for kind in ("narrative", "message", "note", "filename", "filecontent")
    }


@pytest.fixture
def written_case(client, maintainer, caseworker, project, canaries):
    """A case opened, discussed and given a file through the pages, every part with a canary."""
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:create"),
        {
            "project": project.pk,
            "category": Category.HARASSMENT,
            "urgency": Urgency.HIGH,
            "help_wanted": [HelpWanted.STEWARD],
            "narrative": f"They keep pushing me. {canaries['narrative']}",
        },
    )
    assert response.status_code == 302
    case = Case.objects.get()
    services.assign_caseworker(case=case, caseworker=caseworker, actor=caseworker)
    detail = reverse("cases:detail", args=[case.public_id])
    response = client.post(
        reverse("cases:post-message", args=[case.public_id]),
        {"body": f"Shared words {canaries['message']}"},
    )
    assert response.status_code == 302
    upload = SimpleUploadedFile(
        f"{canaries['filename']}.txt",
        f"Screenshot transcript {canaries['filecontent']}\n".encode(),
        content_type="text/plain",
    )
    response = client.post(
        reverse("cases:add-attachment", args=[case.public_id]), {"file": upload}
    )
    assert response.status_code == 302, response.content.decode()
    client.force_login(caseworker)
    response = client.post(
        reverse("cases:post-message", args=[case.public_id]),
        {"body": f"Internal {canaries['note']}", "internal": "on"},
    )
    assert response.status_code == 302
    # The words are there for the people allowed to read them, so the scans below mean something.
    page = client.get(detail).content.decode()
    for kind in ("narrative", "message", "note", "filename"):
        assert canaries[kind] in page
    return Case.objects.get(pk=case.pk)


def _as_bytes(value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def _raw_rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - table names come from introspection
        return cursor.fetchall()


def _leaks(needles: list[str]) -> list[str]:
    """Every (table, needle) where a needle's bytes appear in any column of any row."""
    found = []
    for table in connection.introspection.table_names():
        blob = b"\x00".join(
            _as_bytes(value) for row in _raw_rows(table) for value in row
        )
        found += [f"{table}: {n}" for n in needles if n.encode() in blob]
    return found


def _files_under(root) -> list[Path]:
    root = Path(root)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_no_canary_in_any_table_or_attachment_file(written_case, canaries, settings):
    # The three confidential tables hold the rows, sealed.
    assert len(_raw_rows("cases_case")) == 1
    assert len(_raw_rows("cases_casemessage")) == 2
    assert len(_raw_rows("cases_caseattachment")) == 1
    # SECURITY: not in them, nor anywhere else (audit data, timeline, sessions, outbox...).
    assert _leaks(list(canaries.values())) == []
    files = _files_under(settings.ATTACHMENT_ROOT)
    assert len(files) == 1
    for path in files:
        assert all(n not in str(path) for n in canaries.values())
        content = path.read_bytes()
        assert all(n.encode() not in content for n in canaries.values())
        assert path.stat().st_mode & 0o077 == 0  # readable by the portal's user only


def test_the_scan_would_see_plaintext(written_case, canaries):
    """Guard against a blind scan: a value written in clear is found by the same code."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case SET help_wanted = %s WHERE id = %s",
            [f'["{canaries["narrative"]}"]', written_case.pk],
        )
    assert _leaks([canaries["narrative"]]) == [f"cases_case: {canaries['narrative']}"]


@pytest.fixture
def second_case(maintainer, project):
    return services.open_case(
        actor=maintainer,
        project=project,
        category=Category.BURNOUT,
        urgency=Urgency.LOW,
        help_wanted=[HelpWanted.TALK],
        narrative="A second, different story.",
    )


def _fresh(case) -> Case:
    """A new instance: no data key cached from before."""
    return Case.objects.get(pk=case.pk)


def test_sealed_narrative_copied_to_another_case_does_not_open(
    written_case, second_case
):
    Case.objects.filter(pk=second_case.pk).update(
        narrative_sealed=written_case.narrative_sealed
    )
    with pytest.raises(CryptoError):
        selectors.narrative_of(_fresh(second_case))


def test_wrapped_key_copied_to_another_case_does_not_open(written_case, second_case):
    """Moving case A's key and words onto case B together still opens nothing."""
    Case.objects.filter(pk=second_case.pk).update(
        wrapped_key=written_case.wrapped_key,
        narrative_sealed=written_case.narrative_sealed,
    )
    with pytest.raises(CryptoError):
        selectors.narrative_of(_fresh(second_case))


def test_sealed_message_copied_to_another_row_or_field_does_not_open(
    written_case, caseworker
):
    shared, note = written_case.messages.order_by("is_internal")
    CaseMessage.objects.filter(pk=shared.pk).update(body_sealed=note.body_sealed)
    with pytest.raises(CryptoError):
        selectors.messages_for(caseworker, _fresh(written_case))
    # The narrative's ciphertext in a message body: same case, same key, wrong field.
    CaseMessage.objects.filter(pk=shared.pk).update(
        body_sealed=written_case.narrative_sealed
    )
    with pytest.raises(CryptoError):
        selectors.messages_for(caseworker, _fresh(written_case))


def test_sealed_file_name_copied_to_another_attachment_does_not_open(
    written_case, second_case, maintainer
):
    original = written_case.attachments.get()
    copy = services.add_attachment(
        case=second_case, actor=maintainer, name="plain.txt", data=b"plain text"
    )
    CaseAttachment.objects.filter(pk=copy.pk).update(
        filename_sealed=original.filename_sealed
    )
    copy = CaseAttachment.objects.select_related("case").get(pk=copy.pk)
    with pytest.raises(CryptoError):
        services.attachment_name(copy)


def test_tampered_ciphertext_does_not_open(written_case):
    sealed = bytearray(written_case.narrative_sealed)
    sealed[-1] ^= 1
    Case.objects.filter(pk=written_case.pk).update(narrative_sealed=bytes(sealed))
    with pytest.raises(CryptoError):
        selectors.narrative_of(_fresh(written_case))


# --- Master key rotation ------------------------------------------------------------------------


@pytest.fixture
def cases_under_the_old_key(maintainer, project, caseworker, settings):
    """Three readable cases, one with a message, and one withdrawn case, all under key 1."""
    assert settings.CASE_MASTER_KEY_VERSION == 1
    opened = [
        services.open_case(
            actor=maintainer,
            project=project,
            category=Category.MONEY,
            urgency=Urgency.NORMAL,
            help_wanted=[HelpWanted.FUNDING],
            narrative=f"Story number {n}.",
        )
        for n in range(3)
    ]
    services.post_message(case=opened[0], actor=maintainer, body="A message.")
    withdrawn = services.open_case(
        actor=maintainer,
        project=project,
        category=Category.OTHER,
        urgency=Urgency.LOW,
        help_wanted=[HelpWanted.TALK],
        narrative="Soon gone.",
    )
    services.withdraw_case(case=withdrawn, actor=maintainer)
    return opened, withdrawn


def _use_keys(settings, keys: dict[int, bytes]) -> None:
    settings.CASE_MASTER_KEYS = keys
    settings.CASE_MASTER_KEY_VERSION = next(iter(keys))


def _readable(case, maintainer) -> bool:
    case = _fresh(case)
    try:
        selectors.narrative_of(case)
        selectors.messages_for(maintainer, case)
    except CryptoError:
        return False
    return True


def test_rotate_case_keys_moves_every_case_to_the_new_master_key(
    cases_under_the_old_key, settings, maintainer
):
    opened, withdrawn = cases_under_the_old_key
    old_key = settings.CASE_MASTER_KEYS[1]
    new = new_key()
    before = {c.pk: (bytes(c.wrapped_key), bytes(c.narrative_sealed)) for c in opened}
    _use_keys(settings, {2: new, 1: old_key})

    call_command("rotate_case_keys", "--limit", "1", stdout=StringIO())
    versions = dict(Case.objects.values_list("pk", "key_version"))
    assert sorted(versions[c.pk] for c in opened) == [1, 1, 2]

    # Rotation is necessary: without the old key, the cases not yet moved cannot be read.
    _use_keys(settings, {2: new})
    readable = {c.pk: _readable(c, maintainer) for c in opened}
    assert readable == {c.pk: versions[c.pk] == 2 for c in opened}
    _use_keys(settings, {2: new, 1: old_key})

    call_command("rotate_case_keys", stdout=StringIO())
    assert set(
        Case.objects.filter(pk__in=[c.pk for c in opened]).values_list(
            "key_version", flat=True
        )
    ) == {2}
    assert all(_readable(c, maintainer) for c in opened)

    # The old key can go: everything still opens under the new one alone.
    _use_keys(settings, {2: new})
    assert all(_readable(c, maintainer) for c in opened)
    assert selectors.messages_for(maintainer, _fresh(opened[0]))[0].body == "A message."
    # Only the small wrapped key changed; the sealed words were not rewritten.
    for case in opened:
        case = _fresh(case)
        assert bytes(case.wrapped_key) != before[case.pk][0]
        assert bytes(case.narrative_sealed) == before[case.pk][1]
    # A withdrawn case has no key to move and stays erased.
    withdrawn = _fresh(withdrawn)
    assert (withdrawn.wrapped_key, withdrawn.key_version) == (None, 1)
    assert AuditEvent.objects.filter(action="case.key_rewrapped").count() == 3
    assert verify_chain() is None


# --- Withdrawal ----------------------------------------------------------------------------------


def _raw_case(case):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT wrapped_key, narrative_sealed, category, urgency, created_at, status "
            "FROM cases_case WHERE id = %s",
            [case.pk],
        )
        return cursor.fetchone()


def _raw_column(table, column, case):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE case_id = %s",  # noqa: S608 - fixed names
            [case.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def test_withdrawal_destroys_the_key_and_erases_the_words(
    written_case,
    client,
    maintainer,
    caseworker,
    canaries,
    settings,
    django_capture_on_commit_callbacks,
):
    case = written_case
    attachment = case.attachments.get()
    sealed_before = bytes(case.narrative_sealed)
    events_before = CaseEvent.objects.filter(case=case).count()
    metadata_before = _raw_case(case)[2:5]
    files = _files_under(settings.ATTACHMENT_ROOT)
    assert len(files) == 1

    client.force_login(maintainer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("cases:withdraw", args=[case.public_id]))
        assert response.status_code == 302
        assert files[0].exists()  # removed only once the erasure is committed
    assert callbacks
    assert _files_under(settings.ATTACHMENT_ROOT) == []

    wrapped_key, narrative, *metadata, status = _raw_case(case)
    assert (wrapped_key, narrative, status) == (None, None, Status.WITHDRAWN)
    assert tuple(metadata) == metadata_before
    assert _raw_column("cases_casemessage", "body_sealed", case) == [None, None]
    assert _raw_column("cases_caseattachment", "filename_sealed", case) == [None]
    assert _raw_column("cases_caseattachment", "blob_name", case) == [""]
    assert CaseEvent.objects.filter(case=case).count() == events_before + 1
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.WITHDRAWN).exists()
    assert _leaks(list(canaries.values())) == []

    # Sealed words put back into the live row do not open: the row's key is gone.
    restored = _fresh(case)
    with pytest.raises(crypto.KeyDestroyed):
        crypto.open_text(restored, "narrative", "", sealed_before)

    # The maintainer sees that their words are erased; the caseworker no longer sees the case.
    page = client.get(reverse("cases:detail", args=[case.public_id]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Erased" in body
    assert all(n not in body for n in canaries.values())
    client.force_login(caseworker)
    assert client.get(reverse("cases:detail", args=[case.public_id])).status_code == 404
    download = reverse(
        "cases:download-attachment", args=[case.public_id, attachment.public_id]
    )
    assert client.get(download).status_code == 404
    assert not caseworker.has_perm("cases.view_case", case)
    assert verify_chain() is None


def test_a_backup_from_before_withdrawal_is_unreadable_once_its_master_key_is_retired(
    written_case, maintainer, settings
):
    """Withdrawal reaches backups through the master key: a backup taken before it still holds
    the wrapped data key, which opens only while the master key that wrapped it is configured.
    Rotating and retiring that key (README, "Rotating the master key") ends it."""
    backup = Case.objects.values(
        "public_id", "wrapped_key", "key_version", "narrative_sealed"
    ).get(pk=written_case.pk)
    services.withdraw_case(case=written_case, actor=maintainer)
    restored = Case(
        public_id=backup["public_id"],
        wrapped_key=backup["wrapped_key"],
        key_version=backup["key_version"],
    )
    # Until the old master key is retired, the backup still opens: that is the documented limit.
    assert crypto.open_text(restored, "narrative", "", backup["narrative_sealed"])

    old_version = settings.CASE_MASTER_KEY_VERSION
    settings.CASE_MASTER_KEYS = {
        old_version + 1: new_key(),
        **settings.CASE_MASTER_KEYS,
    }
    settings.CASE_MASTER_KEY_VERSION = old_version + 1
    call_command("rotate_case_keys")
    settings.CASE_MASTER_KEYS = {
        old_version + 1: settings.CASE_MASTER_KEYS[old_version + 1]
    }

    restored = Case(
        public_id=backup["public_id"],
        wrapped_key=backup["wrapped_key"],
        key_version=backup["key_version"],
    )
    with pytest.raises(CryptoError):
        crypto.open_text(restored, "narrative", "", backup["narrative_sealed"])


def test_uploads_are_never_spooled_to_disk_in_plaintext(
    client, case, maintainer, monkeypatch
):
    from django.core.files import uploadhandler

    spooled = []

    class Recorded(uploadhandler.TemporaryUploadedFile):
        # Observes Django's real spooling; it still writes the temporary file as usual.
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            spooled.append(self.temporary_file_path())

    monkeypatch.setattr(uploadhandler, "TemporaryUploadedFile", Recorded)
    canary = _canary("bigfile")
    data = f"{canary}\n".encode() * (3 * 1024 * 1024 // (len(canary) + 1))
    client.force_login(maintainer)
    response = client.post(
        reverse("cases:add-attachment", args=[case.public_id]),
        {"file": SimpleUploadedFile("big.txt", data)},
    )
    assert response.status_code == 302
    assert spooled == []


def test_withdrawing_twice_is_refused(case, maintainer, client):
    services.withdraw_case(case=case, actor=maintainer)
    with pytest.raises(Refused, match="already withdrawn"):
        services.withdraw_case(case=case, actor=maintainer)
    client.force_login(maintainer)
    before = AuditEvent.objects.filter(action="case.withdrawn").count()
    response = client.post(reverse("cases:withdraw", args=[case.public_id]))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="case.withdrawn").count() == before == 1
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.WITHDRAWN).count() == 1


@pytest.mark.parametrize("role", ["stranger", "other_maintainer", "caseworker"])
def test_only_the_case_maintainers_can_withdraw(request, case, role, client):
    person = request.getfixturevalue(role)
    with pytest.raises(Refused, match="Only the maintainers"):
        services.withdraw_case(case=case, actor=person)
    client.force_login(person)
    response = client.post(reverse("cases:withdraw", args=[case.public_id]))
    # Cannot see the case: 404. Sees it but may not withdraw it (its caseworker): 403.
    assert response.status_code == (403 if role == "caseworker" else 404)
    case.refresh_from_db()
    assert case.status != Status.WITHDRAWN and case.wrapped_key is not None
