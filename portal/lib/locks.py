"""Serialising writers that must not interleave (a hash chain, a yearly counter)."""

import zlib

from django.db import connection


def serialize(name: str) -> None:
    """Hold a transaction-scoped lock named `name` until the current transaction ends.

    PostgreSQL: an advisory lock. SQLite serialises all writers already, so nothing is needed.
    Must be called inside `transaction.atomic`.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(name.encode())]
            )
