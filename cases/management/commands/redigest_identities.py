"""Recompute the digests identities of concern are matched by, after SECRET_KEY changed.

The digests are keyed with SECRET_KEY (see `cases.screening.digest`); the identities
themselves are sealed under each case's data key, so they can be opened and digested again.
Clearances keep only a digest: they are recomputed from the concern they cleared when it can
be found, and otherwise must be made again by a caseworker (the command says how many).
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from cases import screening
from cases.models import ConcernClearance, IdentityOfConcern


class Command(BaseCommand):
    help = "Recompute identity-of-concern digests under the current SECRET_KEY."

    def add_arguments(self, parser):
        parser.add_argument(
            "--old-secret-key",
            required=True,
            help="The previous SECRET_KEY, to map old clearance digests to new ones.",
        )

    def handle(self, *args, old_secret_key, **options):
        from django.utils.crypto import salted_hmac

        def old_digest(identity: str) -> str:
            return salted_hmac(
                "steady:identity-of-concern",
                identity,
                secret=old_secret_key,
                algorithm="sha256",
            ).hexdigest()

        mapping, erased = {}, 0
        with transaction.atomic():
            for concern in IdentityOfConcern.objects.select_related("case").iterator():
                identity = screening.identity_of(concern)
                if identity is None:
                    erased += 1
                    continue
                mapping[old_digest(identity)] = screening.digest(identity)
                concern.identity_digest = mapping[old_digest(identity)]
                concern.save(update_fields=["identity_digest"])
            orphaned = 0
            for clearance in ConcernClearance.objects.iterator():
                new = mapping.get(clearance.identity_digest)
                if new is None:
                    orphaned += 1
                    continue
                clearance.identity_digest = new
                clearance.save(update_fields=["identity_digest"])
        self.stdout.write(
            f"{len(mapping)} identities re-digested; {erased} on withdrawn cases could not be "
            f"opened; {orphaned} clearances had no matching concern."
        )
