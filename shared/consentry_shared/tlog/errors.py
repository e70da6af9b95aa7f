"""The exceptions of :mod:`consentry_shared.tlog` (the hierarchy is drawn in the package docstring).

Every error raised on purpose by this package derives from :class:`TlogError`, so a boundary
(an HTTP handler, the CLI) can translate all of them with one ``except``. Errors that signal a
bad *input value* also derive from :class:`ValueError`, so generic callers that already catch
``ValueError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "CanonicalizationError",
    "EntryTooLargeError",
    "ExportError",
    "InvalidSignatureError",
    "MalformedKeyError",
    "MalformedNoteError",
    "MalformedTileError",
    "NoteError",
    "ProofError",
    "TileError",
    "TlogError",
    "UnknownKeyError",
    "VerificationError",
]


class TlogError(Exception):
    """Base class of every error this package raises on purpose."""


class CanonicalizationError(TlogError, ValueError):
    """A value has no RFC 8785 canonical form we accept.

    Raised for non-integral floats, NaN/infinity, integers outside the IEEE 754 safe range
    (|n| > 2**53 - 1), non-string object keys, lone surrogates, cycles and unsupported types.
    """


class ProofError(TlogError):
    """An inclusion or consistency proof does not verify (or is structurally impossible)."""


class NoteError(TlogError):
    """Base class of signed-note errors."""


class MalformedNoteError(NoteError, ValueError):
    """A signed note, signature line or checkpoint body violates the C2SP syntax."""


class MalformedKeyError(NoteError, ValueError):
    """A signer (``PRIVATE+KEY+...``) or verifier key string cannot be parsed or is inconsistent."""


class UnknownKeyError(NoteError):
    """No signature on the note comes from any of the trusted keys."""


class InvalidSignatureError(NoteError):
    """A signature from a trusted key (same name and key ID) failed to verify."""


class TileError(TlogError):
    """Base class of tlog-tiles export errors."""


class MalformedTileError(TileError, ValueError):
    """A tile or entry bundle has the wrong length or cannot be decoded.

    ``position`` is the 0-based position inside the bundle/tile of the first entry that could
    not be decoded, when known.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class EntryTooLargeError(TileError, ValueError):
    """An entry is longer than 65,535 bytes, the limit of the uint16 bundle length prefix."""


class ExportError(TileError):
    """An export cannot be written consistently (rollback, wrong root, corrupt previous export)."""


class VerificationError(TlogError):
    """An exported log failed offline verification.

    Attributes:
        code: a short, stable machine-readable reason. One of ``malformed`` (a file is
            missing, truncated or undecodable), ``bad-signature`` (the checkpoint, or the saved
            ``since`` checkpoint, carries no valid signature by the key), ``entry-mismatch``
            (an entry does not hash to its level-0 tile hash), ``tile-mismatch`` (a level >= 1
            tile disagrees with the hashes recomputed from the entries), ``root-mismatch`` (the
            entries do not rebuild the signed root), ``entry-invalid`` (the caller's
            ``entry_check`` rejected an entry), ``inconsistent`` (the saved checkpoint is not a
            prefix of this log) and ``rollback`` (this log is smaller than the saved checkpoint).
        index: the index of the first bad entry when one can be named, else ``None``.
    """

    def __init__(self, code: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.index = index

    def __str__(self) -> str:
        return f"[{self.code}] {super().__str__()}"
