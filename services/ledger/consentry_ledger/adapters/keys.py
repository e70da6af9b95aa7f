"""The ledger's signing key: made on first start, kept in the data directory."""

from __future__ import annotations

import os
from pathlib import Path

from consentry_shared.tlog import Signer


def load_or_create_signer(path: Path, name: str) -> Signer:
    """The signer stored at ``path`` (a signed-note private key), created with mode 0600 if absent.

    An existing key whose name differs from ``name`` is refused: changing the origin silently
    would make every auditor's saved checkpoint unverifiable.
    """
    if path.exists():
        signer = Signer.from_skey(path.read_text(encoding="ascii").strip())
        if signer.name != name:
            raise ValueError(f"key {path} is for {signer.name!r}, not the configured origin {name!r}")
        return signer
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = Signer.generate(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(signer.skey + "\n")
    return signer
