from django.core.management.base import BaseCommand

from portal.lib.sshsig import generate_signing_key, parse_signing_keys


class Command(BaseCommand):
    help = (
        "Print a new NOTICE_SIGNING_KEYS entry (an Ed25519 key valid from today) and its public "
        "key. Put it first in NOTICE_SIGNING_KEYS and keep the old keys listed after it."
    )

    def handle(self, *args, **options):
        entry = generate_signing_key()
        (key,) = parse_signing_keys(entry)
        self.stdout.write(entry)
        self.stderr.write(f"public key: {key.fingerprint}")
