import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from cases import notifications
from cases.models import Case, SlaWarning
from cases.states import OPEN


def _not_yet_warned(cases: QuerySet[Case], threshold: str) -> QuerySet[Case]:
    warned = SlaWarning.objects.filter(case_id=OuterRef("pk"), threshold=threshold)
    return cases.filter(~Exists(warned))


@transaction.atomic
def warn_first_response(*, now: datetime.datetime | None = None) -> list[SlaWarning]:
    """Warn caseworkers about open cases still waiting for a first response.

    "Due soon" once less than `settings.SLA_DUE_SOON_FRACTION` of the urgency's window
    (`settings.FIRST_RESPONSE_HOURS`) is left; "breached" once the due time has passed. A case
    that is already breached gets only the breached warning. Each warning goes out once per case
    and threshold however often (or however concurrently) this runs: the `SlaWarning` row is
    inserted first and the unique constraint decides; only a row this call inserted queues mail.
    Nothing is sent about a case that has had a first response.

    Emits, after commit, one notification task per recipient and warning (see
    `cases.notifications.sla_warning_recipients`). Returns the warnings this call wrote.
    """
    now = now or timezone.now()
    fraction = settings.SLA_DUE_SOON_FRACTION
    waiting = Case.objects.filter(
        status__in=OPEN,
        first_response_at__isnull=True,
        first_response_due_at__isnull=False,
    )
    soon = Q()
    for urgency, hours in settings.FIRST_RESPONSE_HOURS.items():
        left = datetime.timedelta(hours=hours * fraction)
        soon |= Q(urgency=urgency, first_response_due_at__lte=now + left)
    breached = waiting.filter(first_response_due_at__lte=now)
    due_soon = waiting.filter(soon, first_response_due_at__gt=now)

    written = []
    for threshold, cases in (
        (SlaWarning.Threshold.BREACHED, breached),
        (SlaWarning.Threshold.DUE_SOON, due_soon),
    ):
        case_ids = list(
            _not_yet_warned(cases, threshold)
            .order_by("first_response_due_at")
            .values_list("pk", flat=True)
        )
        for case_id in case_ids:
            try:
                # The savepoint keeps the run going when a concurrent run won this row.
                with transaction.atomic():
                    warning = SlaWarning.objects.create(
                        case_id=case_id, threshold=threshold
                    )
            except IntegrityError:
                continue
            notifications.queue_sla_warning(warning=warning)
            written.append(warning)
    return written
