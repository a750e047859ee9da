"""Keys are checked against the real tools: fingerprints must match ssh-keygen and gpg."""

import base64
import os
import shutil
import subprocess

import pytest

from portal.lib.keys import OPENPGP, SSH, InvalidKey, parse_public_key, split_keys

_TOOLS = {name: shutil.which(name) for name in ("ssh-keygen", "gpg", "gpgconf")}


def _run(tool: str, *args: str, env=None, check=True) -> str:
    """Run one of the real key tools with fixed arguments; return its standard output."""
    return subprocess.run(  # noqa: S603 - absolute path to a system tool, arguments from tests
        [_TOOLS[tool], *args], check=check, capture_output=True, text=True, env=env
    ).stdout


def _ssh_keygen(tmp_path, key_type: str, bits: int | None = None) -> tuple[str, str]:
    path = tmp_path / f"id_{key_type}_{bits}"
    args = ["-q", "-t", key_type, "-N", "", "-C", "me@example.org", "-f", str(path)]
    if bits:
        args += ["-b", str(bits)]
    _run("ssh-keygen", *args)
    printed = _run("ssh-keygen", "-l", "-E", "sha256", "-f", f"{path}.pub").split()[1]
    return (tmp_path / f"{path.name}.pub").read_text(), printed


@pytest.fixture(scope="module")
def gnupg(tmp_path_factory):
    home = tmp_path_factory.mktemp("gnupg")
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    quiet = ["--batch", "--pinentry-mode", "loopback", "--passphrase", ""]

    def make(uid: str, algo: str) -> tuple[str, str]:
        _run("gpg", *quiet, "--quick-gen-key", uid, algo, "sign", "never", env=env)
        armored = _run("gpg", "--armor", "--export", uid, env=env)
        colons = _run("gpg", "--with-colons", "--fingerprint", uid, env=env)
        fpr = next(line for line in colons.splitlines() if line.startswith("fpr:"))
        return armored, fpr.split(":")[9]

    def secret(uid: str) -> str:
        return _run("gpg", *quiet, "--armor", "--export-secret-keys", uid, env=env)

    make.secret = secret
    yield make
    _run("gpgconf", "--kill", "gpg-agent", env=env, check=False)


@pytest.mark.parametrize(
    ("key_type", "bits", "algorithm"),
    [
        ("ed25519", None, "Ed25519"),
        ("ecdsa", 256, "ECDSA P-256"),
        ("ecdsa", 521, "ECDSA P-521"),
        ("rsa", 2048, "RSA 2048"),
    ],
)
def test_ssh_fingerprint_matches_ssh_keygen(tmp_path, key_type, bits, algorithm):
    line, printed = _ssh_keygen(tmp_path, key_type, bits)
    parsed = parse_public_key(line)
    assert parsed.kind == SSH
    assert parsed.fingerprint == printed
    assert parsed.algorithm == algorithm
    assert parsed.public_key == line.strip()


def test_short_rsa_ssh_key_is_refused(tmp_path):
    line, _ = _ssh_keygen(tmp_path, "rsa", 1024)
    with pytest.raises(InvalidKey, match="1024 bits; at least 2048"):
        parse_public_key(line)


def test_ssh_key_with_damaged_data_is_refused(tmp_path):
    line, _ = _ssh_keygen(tmp_path, "ed25519")
    key_type, blob, comment = line.split(" ", 2)
    raw = bytearray(base64.b64decode(blob))
    damaged = base64.b64encode(bytes(raw[:-5])).decode()
    with pytest.raises(InvalidKey, match="damaged"):
        parse_public_key(f"{key_type} {damaged} {comment}")
    with pytest.raises(InvalidKey, match="not valid base64"):
        parse_public_key(f"{key_type} {blob[:-3]}!!! {comment}")


def test_ssh_key_whose_type_does_not_match_its_data_is_refused(tmp_path):
    line, _ = _ssh_keygen(tmp_path, "ed25519")
    _, blob, _ = line.split(" ", 2)
    with pytest.raises(InvalidKey, match="does not match its type"):
        parse_public_key(f"ecdsa-sha2-nistp256 {blob}")


@pytest.mark.parametrize(
    "text",
    [
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t",
        "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t",
    ],
)
def test_unaccepted_ssh_key_types_are_named(text):
    with pytest.raises(InvalidKey, match="is not accepted"):
        parse_public_key(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("hello", "neither an SSH public key"),
        ("just some words here", "neither an SSH public key"),
        ("x" * 70_000, "too long"),
    ],
)
def test_garbage_is_refused_with_a_message(text, message):
    with pytest.raises(InvalidKey, match=message):
        parse_public_key(text)


def test_ssh_private_key_is_refused_without_being_kept(tmp_path):
    _ssh_keygen(tmp_path, "ed25519")
    private = (tmp_path / "id_ed25519_None").read_text()
    with pytest.raises(InvalidKey, match="private key. Never share it"):
        parse_public_key(private)


@pytest.mark.parametrize(
    ("algo", "algorithm"),
    [
        ("ed25519", "OpenPGP EdDSA"),
        ("rsa2048", "OpenPGP RSA 2048"),
        ("nistp256", "OpenPGP ECDSA"),
    ],
)
def test_openpgp_fingerprint_matches_gpg(gnupg, algo, algorithm):
    armored, fpr = gnupg(f"{algo} <{algo}@example.org>", algo)
    parsed = parse_public_key(armored)
    assert parsed.kind == OPENPGP
    assert parsed.fingerprint == fpr
    assert parsed.fingerprint == parsed.fingerprint.upper() and len(fpr) == 40
    assert parsed.algorithm == algorithm


def test_openpgp_short_rsa_key_is_refused(gnupg):
    armored, _ = gnupg("Short <short@example.org>", "rsa1024")
    with pytest.raises(InvalidKey, match="1024 bits; at least 2048"):
        parse_public_key(armored)


def test_openpgp_dsa_key_is_refused(gnupg):
    armored, _ = gnupg("Old <old@example.org>", "dsa2048")
    with pytest.raises(InvalidKey, match="DSA keys are obsolete"):
        parse_public_key(armored)


def test_openpgp_secret_key_is_refused(gnupg):
    gnupg("Secret <secret@example.org>", "ed25519")
    with pytest.raises(InvalidKey, match="private key. Never share it"):
        parse_public_key(gnupg.secret("secret@example.org"))


def _armor_lines(armored: str) -> list[str]:
    return armored.strip().splitlines()


def test_openpgp_block_changed_in_transit_fails_its_checksum(gnupg):
    armored, _ = gnupg("Sum <sum@example.org>", "ed25519")
    lines = _armor_lines(armored)
    # Change one base64 character in the first data line (after the blank line).
    data_at = lines.index("") + 1
    line = lines[data_at]
    lines[data_at] = line[:10] + ("A" if line[10] != "A" else "B") + line[11:]
    with pytest.raises(InvalidKey, match="checksum does not match"):
        parse_public_key("\n".join(lines))


def test_openpgp_block_cut_short_is_refused(gnupg):
    armored, _ = gnupg("Cut <cut@example.org>", "ed25519")
    lines = _armor_lines(armored)
    data_at = lines.index("") + 1
    checksumless = [line for line in lines if not line.startswith("=")]
    # Keep only the first data line: the packets that follow it are truncated.
    cut = checksumless[: data_at + 1] + [checksumless[-1]]
    with pytest.raises(InvalidKey, match="cut short|not valid base64"):
        parse_public_key("\n".join(cut))


def test_openpgp_block_without_end_line_is_refused(gnupg):
    armored, _ = gnupg("End <end@example.org>", "ed25519")
    with pytest.raises(InvalidKey, match="no -----END PGP PUBLIC KEY BLOCK"):
        parse_public_key("\n".join(_armor_lines(armored)[:-1]))


def test_two_openpgp_keys_in_one_block_are_refused(gnupg, tmp_path):
    first, _ = gnupg("One <one@example.org>", "ed25519")
    second, _ = gnupg("Two <two@example.org>", "ed25519")

    def raw(armored):
        lines = _armor_lines(armored)
        body = [x for x in lines[lines.index("") + 1 : -1] if not x.startswith("=")]
        return base64.b64decode("".join(body))

    both = base64.b64encode(raw(first) + raw(second)).decode()
    block = "\n".join(
        [
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "",
            both,
            "-----END PGP PUBLIC KEY BLOCK-----",
        ]
    )
    with pytest.raises(InvalidKey, match="more than one key"):
        parse_public_key(block)


def test_openpgp_block_of_non_key_packets_is_refused():
    # A literal data packet (tag 11), new format: not a key at all.
    packet = bytes([0xC0 | 11, 6]) + b"b\x00abcd"
    block = "\n".join(
        [
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "",
            base64.b64encode(packet).decode(),
            "-----END PGP PUBLIC KEY BLOCK-----",
        ]
    )
    with pytest.raises(InvalidKey, match="does not start with a public key"):
        parse_public_key(block)


def test_pasted_text_splits_into_ssh_lines_and_whole_openpgp_blocks(gnupg, tmp_path):
    armored, fpr = gnupg("Split <split@example.org>", "ed25519")
    first, _ = _ssh_keygen(tmp_path, "ed25519")
    text = f"\n{first}\n\n{armored}\r\n  ssh-ed25519 AAAA second  \n"
    keys = split_keys(text)
    assert len(keys) == 3
    assert keys[0] == first.strip()
    assert parse_public_key(keys[1]).fingerprint == fpr
    assert keys[2] == "ssh-ed25519 AAAA second"


def test_unterminated_openpgp_block_stays_one_key_and_is_explained():
    (key,) = split_keys("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEaw+iKx\n")
    with pytest.raises(InvalidKey, match="no -----END PGP PUBLIC KEY BLOCK"):
        parse_public_key(key)
