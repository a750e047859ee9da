"""Re-wrap every case's data key under the current master key.

Safe to interrupt and resume: each case is re-wrapped in its own short transaction, and only
cases still wrapped by an older key are picked, so a second run continues where the first
stopped. The sealed words themselves are not touched: only the small wrapped key changes.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cases import crypto
from cases.models import Case
from portal.audit.services import record_event
from portal.lib.crypto import CryptoError


class Command(BaseCommand):
    help = "Re-wrap case data keys under the current master key (first in CASE_MASTER_KEYS)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="stop after this many cases (for testing a resume)",
        )

    def handle(self, *args, **options):
        current = settings.CASE_MASTER_KEY_VERSION
        done = 0
        failed: set[int] = set()
        while options["limit"] is None or done < options["limit"]:
            size = options["batch_size"]
            if options["limit"] is not None:
                size = min(size, options["limit"] - done)
            ids = list(
                Case.objects.filter(wrapped_key__isnull=False)
                .exclude(key_version=current)
                .exclude(pk__in=failed)
                .order_by("pk")
                .values_list("pk", flat=True)[:size]
            )
            if not ids:
                break
            progressed = False
            for pk in ids:
                try:
                    rewrapped = self._rewrap(pk, current)
                except CryptoError as exc:
                    failed.add(pk)
                    self.stderr.write(
                        f"case {pk}: cannot unwrap its data key ({exc}); skipped"
                    )
                    continue
                done += rewrapped
                progressed = True
            if not progressed:
                break
        remaining = (
            Case.objects.filter(wrapped_key__isnull=False)
            .exclude(key_version=current)
            .count()
        )
        self.stdout.write(
            f"Re-wrapped {done} case keys under master key {current}; {remaining} remain."
        )
        if failed:
            raise CommandError(
                f"{len(failed)} case keys could not be unwrapped: is every older master key still "
                "in CASE_MASTER_KEYS? Fix the configuration and run the command again."
            )

    @transaction.atomic
    def _rewrap(self, pk: int, current: int) -> int:
        case = Case.objects.select_for_update().filter(pk=pk).first()
        if case is None or case.wrapped_key is None or case.key_version == current:
            return 0
        old = case.key_version
        crypto.rewrap(case, current)
        case.save(update_fields=["wrapped_key", "key_version"])
        record_event(
            actor=None,
            action="case.key_rewrapped",
            obj=case,
            data={"from": old, "to": current},
        )
        return 1
