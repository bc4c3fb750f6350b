"""The bundle's trust anchor: a fingerprint the bundle cannot rewrite.

A bundle's own ``SHA256SUMS`` and ``fingerprints.json`` only prove that its files agree with each other: whoever
edits a driver can regenerate them. What the host trusts is the **bundle fingerprint**, ``sha256:<hex>`` of the
archive's bytes. ``osirisc emit`` prints it (bundles are byte-reproducible, so emitting the same sources again
gives the same fingerprint), the user keeps it outside the bundle, and ``osirisc run --bundle B --expect FP``
refuses a bundle whose bytes differ before anything is unpacked, installed or run. ``osirisc run FILE --target
...`` emits and checks the bundle in one process, with the fingerprint it just computed.

The verified bytes are copied into a private folder and only that copy is used afterwards, so the file cannot
be swapped between the check and its use.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from osiris.runtime.errors import RunError

PREFIX = "sha256:"
_FINGERPRINT = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
EXIT_UNTRUSTED = 10  # the entry point's exit code for a bundle changed after emission


class UntrustedBundle(RunError):
    """The bundle's bytes are not the ones the user expects (exit code 10)."""

    def __init__(self, message: str):
        super().__init__("OSR-E412", message, invalid=False)


def fingerprint(data: bytes) -> str:
    """The bundle fingerprint of an archive's bytes: ``sha256:<64 hex digits>``."""
    return PREFIX + hashlib.sha256(data).hexdigest()


def parse_expected(text: str) -> str:
    """``--expect``'s value as a fingerprint; raises RunError (exit 2) when it is not one."""
    match = _FINGERPRINT.match(text.strip().lower())
    if match is None:
        raise RunError(
            "OSR-E412",
            f"--expect takes the bundle fingerprint `osirisc emit` printed (sha256:<64 hex digits>), not {text[:80]!r}",
        )
    return PREFIX + match.group(1)


@contextmanager
def verified_copy(bundle: Path, expected: str) -> Iterator[Path]:
    """A private copy of ``bundle`` whose bytes have fingerprint ``expected``; raises UntrustedBundle otherwise.

    The copy (in a folder only this user can read) is removed when the block ends.
    """
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise RunError("OSR-E404", f"cannot read bundle '{bundle}': {type(exc).__name__}") from None
    actual = fingerprint(data)
    if not hmac.compare_digest(actual, expected):
        raise UntrustedBundle(
            f"bundle refused: '{bundle.name}' has fingerprint {actual}, not the expected {expected}; "
            "it is not the bundle that was emitted (emit it again and run the new one with its fingerprint)"
        )
    folder = Path(tempfile.mkdtemp(prefix="osiris-verified-"))
    try:
        copy = folder / bundle.name
        copy.write_bytes(data)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)
