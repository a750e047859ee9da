"""Start-up refuses unsafe or unparsable configuration (run in a fresh interpreter each time)."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _start(**env):
    environment = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CASE_MASTER_KEYS", "CACHE_URL"}
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_development_secret_key_is_refused_when_debug_is_off():
    result = _start(DEBUG="false")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is the development default" in result.stderr


REAL_MASTER_KEY = "7:" + "k" * 43
# Start-up does not connect to the cache, so no Redis needs to answer here.
SHARED_CACHE = "redis://127.0.0.1:6379/1"


REAL_SIGNING_KEY = "2026-01-01:" + base64.b64encode(b"r" * 32).decode()


def test_a_real_secret_key_starts_with_debug_off():
    result = _start(
        DEBUG="false",
        SECRET_KEY="x" * 60,
        CASE_MASTER_KEYS=REAL_MASTER_KEY,
        NOTICE_SIGNING_KEYS=REAL_SIGNING_KEY,
        CACHE_URL=SHARED_CACHE,
    )
    assert result.returncode == 0, result.stderr


def test_development_signing_key_is_refused_when_debug_is_off():
    result = _start(
        DEBUG="false",
        SECRET_KEY="x" * 60,
        CASE_MASTER_KEYS=REAL_MASTER_KEY,
        CACHE_URL=SHARED_CACHE,
    )
    assert result.returncode != 0
    assert "NOTICE_SIGNING_KEYS contains the development signing key" in result.stderr


def test_webhooks_to_loopback_are_refused_when_debug_is_off():
    result = _start(
        DEBUG="false",
        SECRET_KEY="x" * 60,
        CASE_MASTER_KEYS=REAL_MASTER_KEY,
        NOTICE_SIGNING_KEYS=REAL_SIGNING_KEY,
        CACHE_URL=SHARED_CACHE,
        WEBHOOK_ALLOW_LOOPBACK="true",
    )
    assert result.returncode != 0
    assert "WEBHOOK_ALLOW_LOOPBACK is on while DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NOTICE_SIGNING_KEYS", "nodate"),
        ("NOTICE_SIGNING_KEYS", "2026-01-01:tooshort"),
        ("NOTICE_SIGNING_KEYS", "2027-01-01..2026-01-01:" + "A" * 43 + "="),
        ("NOTICE_SIGNER_IDENTITY", "two words"),
    ],
)
def test_bad_notice_signing_settings_are_refused(name, value):
    result = _start(**{name: value})
    assert result.returncode != 0
    assert f"{name} is not valid" in result.stderr


def test_development_master_key_is_refused_when_debug_is_off():
    result = _start(DEBUG="false", SECRET_KEY="x" * 60, CACHE_URL=SHARED_CACHE)
    assert result.returncode != 0
    assert "CASE_MASTER_KEYS contains the development master key" in result.stderr


@pytest.mark.parametrize(
    "value",
    ["", "nokey", "1:short", "x:" + "k" * 43, "1:" + "k" * 43 + ",1:" + "j" * 43],
)
def test_bad_master_keys_are_refused(value):
    result = _start(CASE_MASTER_KEYS=value)
    assert result.returncode != 0
    assert "CASE_MASTER_KEYS is not valid" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "perhaps"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("SUBSCRIPTION_CONFIRM_MAX_AGE", "soon"),
        ("CACHE_URL", "nosuchcache://x"),
    ],
)
def test_unparsable_values_are_named_at_start_up(name, value):
    result = _start(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


@pytest.mark.parametrize("value", [None, "locmemcache://", "dummycache://"])
def test_a_process_local_cache_is_refused_when_debug_is_off(value):
    # allauth's rate limits and its record of used one-time codes live in the cache: each web
    # process keeping its own would multiply the limits and let a TOTP code be replayed.
    environment = {} if value is None else {"CACHE_URL": value}
    result = _start(
        DEBUG="false",
        SECRET_KEY="x" * 60,
        CASE_MASTER_KEYS=REAL_MASTER_KEY,
        **environment,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CACHE_URL is a process-local cache" in result.stderr


def test_the_demo_runs_on_a_process_local_cache():
    result = _start(
        DEBUG="true",
        SECRET_KEY="x" * 60,
        CASE_MASTER_KEYS=REAL_MASTER_KEY,
        CACHE_URL="locmemcache://",
    )
    assert result.returncode == 0, result.stderr
