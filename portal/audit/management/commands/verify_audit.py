"""Check the audit trail's hash chain end to end. Exit status 1 at the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from portal.audit.verify import check_chain


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain: report the first edited, removed or inserted "
        "event and exit non-zero, or print the number of events and the head hash."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=2000,
            help="rows fetched per round trip while streaming the trail",
        )

    def handle(self, *args, **options):
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        result = check_chain(chunk_size=options["chunk_size"])
        if result.broken is not None:
            # CommandError: message on stderr and exit status 1 from the command line.
            raise CommandError(
                f"Audit trail BROKEN at {result.broken} "
                f"({result.checked} events read; the chain holds up to "
                f"{'the start' if result.head_id is None else f'#{result.head_id}'})."
            )
        if result.head_id is None:
            self.stdout.write("Audit trail intact: 0 events.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit trail intact: {result.checked} events, "
                f"head #{result.head_id} {result.head_hash}."
            )
        )
