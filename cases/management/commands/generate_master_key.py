from django.core.management.base import BaseCommand

from portal.lib.crypto import encode_key, new_key


class Command(BaseCommand):
    help = "Print a new random master key for CASE_MASTER_KEYS (as VERSION:KEY with --version)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--version", type=int, default=1, help="the version number to prefix"
        )

    def handle(self, *args, **options):
        self.stdout.write(f"{options['version']}:{encode_key(new_key())}")
