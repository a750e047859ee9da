"""The foundation's signing keys (NOTICE_SIGNING_KEYS), applied to notices and log checkpoints."""

from django.conf import settings

from portal.lib import sshsig


def _keys() -> list[sshsig.FoundationKey]:
    return settings.NOTICE_SIGNING_KEYS


def current_key() -> sshsig.FoundationKey:
    """The key that signs from now on: the first configured one."""
    return _keys()[0]


def sign_notice(data: bytes) -> tuple[str, str]:
    """Sign a revision's canonical bytes; return the armoured signature and the key fingerprint."""
    key = current_key()
    return sshsig.sign(key.private_key, data, sshsig.NOTICE_NAMESPACE), key.fingerprint


def sign_checkpoint(text: str) -> str:
    return sshsig.sign(
        current_key().private_key, text.encode(), sshsig.CHECKPOINT_NAMESPACE
    )


def allowed_signers_file() -> str:
    """What `/.well-known/steady/allowed_signers` serves: every key, with its validity period."""
    return sshsig.allowed_signers(settings.NOTICE_SIGNER_IDENTITY, _keys())
