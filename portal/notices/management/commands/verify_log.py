from django.core.management.base import BaseCommand, CommandError

from portal.notices.verification import verify_log


class Command(BaseCommand):
    help = (
        "Check the transparency log from scratch: every entry's hash against its revision's "
        "signed bytes, every revision's signature, every checkpoint's root and signature, and "
        "that each checkpoint extends the one before. Exit 1 naming the first problem."
    )

    def handle(self, *args, **options):
        report = verify_log()
        if report.problems:
            for problem in report.problems:
                self.stderr.write(problem)
            raise CommandError(f"The notice log is NOT intact: {report.problems[0]}")
        self.stdout.write(
            f"The notice log is intact: {report.entries} entries, {report.checkpoints} signed "
            f"checkpoints, every revision signature verified."
        )
