"""The foundation's signing keys (NOTICE_SIGNING_KEYS), applied to notices and log checkpoints."""

from django.conf import settings
from django.utils import timezone

from portal.lib import sshsig
from portal.lib.checkpoint import Checkpoint, sign_checkpoint


def keys() -> list[sshsig.FoundationKey]:
    return settings.NOTICE_SIGNING_KEYS


def current_key() -> sshsig.FoundationKey:
    """The key that signs now: the first configured one, refused outside its validity period."""
    return sshsig.current_signing_key(keys(), timezone.now())


def sign_notice(data: bytes) -> tuple[str, str]:
    """Sign a revision's canonical bytes; return the armoured signature and the key fingerprint."""
    key = current_key()
    return sshsig.sign(key.private_key, data, sshsig.NOTICE_NAMESPACE), key.fingerprint


def sign_log_checkpoint(checkpoint: Checkpoint) -> str:
    return sign_checkpoint(current_key().private_key, checkpoint)


def allowed_signers() -> list[sshsig.AllowedSigner]:
    return [key.allowed_signer(settings.NOTICE_SIGNER_IDENTITY) for key in keys()]


def allowed_signers_file() -> str:
    """What `/.well-known/steady/allowed_signers` serves: every key, with its validity period."""
    return sshsig.allowed_signers(settings.NOTICE_SIGNER_IDENTITY, keys())
