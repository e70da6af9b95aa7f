"""C2SP signed notes, tlog checkpoints and tlog cosignatures (Ed25519).

Formats (c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature):

* a note is ``text`` (ending in a newline), one blank line, then signature lines
  ``— <key name> base64(key ID[4] || signature)``; the text is everything up to the *last*
  blank line;
* key ID = ``SHA-256(name || 0x0A || type || public key)[:4]`` with type ``0x01`` for plain
  Ed25519 note signatures and ``0x04`` for timestamped Ed25519 cosignatures;
* keys travel as strings: verifier keys ``<name>+<hex key ID>+base64(type || public key)`` and
  signer keys ``PRIVATE+KEY+<name>+<hex key ID>+base64(type || seed)`` (Go's x/mod/sumdb/note
  encoding). Base64 may itself contain ``+``, so they are split at the first separators only.

Errors (all :class:`~consentry_shared.tlog.errors.NoteError`): ``MalformedNoteError`` for bad
syntax, ``MalformedKeyError`` for bad key strings, ``UnknownKeyError`` when no signature comes
from a trusted key, ``InvalidSignatureError`` when a trusted key's signature fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consentry_shared.tlog.errors import (
    InvalidSignatureError,
    MalformedKeyError,
    MalformedNoteError,
    UnknownKeyError,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CosignatureVerifier",
    "Cosigner",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "SignedNote",
    "Signer",
    "Verifier",
    "add_signatures",
    "key_id_for",
    "open_checkpoint",
    "open_note",
    "sign_note",
]

ALG_ED25519 = 0x01
"""Signature type byte of plain Ed25519 note signatures."""

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of timestamped Ed25519 ``cosignature/v1`` (c2sp.org/tlog-cosignature)."""

MAX_SIGNATURES = 100
"""Most signature lines :func:`open_note` accepts (the spec requires at least 16)."""

_DASH = "\u2014 "
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_HEX8 = re.compile(r"[0-9a-f]{8}")
_TIMESTAMP_MAX = 2**63 - 1


def _valid_name(name: str) -> bool:
    return (
        bool(name)
        and "+" not in name
        and not any(char.isspace() for char in name)
        and _CONTROL.search(name) is None
    )


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4) with padding."""
    if _B64.fullmatch(text) is None or len(text) % 4:
        raise ValueError("not padded standard base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_id_for(name: str, alg: int, public_key: bytes) -> bytes:
    """Return the 4-byte key ID ``SHA-256(name || 0x0A || alg || public_key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _split_vkey(vkey: str) -> tuple[str, str, bytes]:
    """Split ``name+hexid+base64`` at the first two ``+`` and decode the key bytes."""
    name, sep1, rest = vkey.partition("+")
    hex_id, sep2, b64 = rest.partition("+")
    if not (sep1 and sep2):
        raise MalformedKeyError("verifier key must look like <name>+<key id>+<base64 key>")
    if not _valid_name(name):
        raise MalformedKeyError(f"invalid key name {name!r}")
    if _HEX8.fullmatch(hex_id) is None:
        raise MalformedKeyError(f"key ID {hex_id!r} is not 8 lower-case hex digits")
    try:
        material = _b64decode(b64)
    except ValueError:
        raise MalformedKeyError("key material is not valid base64") from None
    if not material:
        raise MalformedKeyError("key material is empty")
    return name, hex_id, material


def _split_skey(skey: str) -> tuple[str, str, bytes]:
    prefix = "PRIVATE+KEY+"
    if not skey.startswith(prefix):
        raise MalformedKeyError("signer key must start with PRIVATE+KEY+")
    return _split_vkey(skey[len(prefix) :])


class NoteSigner(Protocol):
    """Anything that can put a plain signature on a note: a name, a key ID and ``sign``."""

    @property
    def name(self) -> str:
        """Key name written on the signature line."""
        ...

    @property
    def key_id(self) -> bytes:
        """4-byte key ID."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Signature over ``message`` (the note text, UTF-8)."""
        ...


class NoteVerifier(Protocol):
    """Anything that can check a note signature: a name, a key ID and ``verify``."""

    @property
    def name(self) -> str:
        """Key name expected on the signature line."""
        ...

    @property
    def key_id(self) -> bytes:
        """4-byte key ID expected at the start of the signature."""
        ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` (without the key ID) is valid for ``message``."""
        ...


class _Ed25519Secret:
    """What the two kinds of secret key share: a name, an Ed25519 key, a key ID of type ``_ALG``,
    and their ``skey``/``vkey`` strings. Subclasses say what they sign."""

    __slots__ = ("_key", "_key_id", "_name", "_public")
    _ALG: ClassVar[int]

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """Wrap an Ed25519 private key under ``name`` (non-empty, no spaces, no ``+``)."""
        if not _valid_name(name):
            raise MalformedKeyError(f"invalid key name {name!r}")
        self._name = name
        self._key = private_key
        self._public = _public_bytes(private_key.public_key())
        self._key_id = key_id_for(name, self._ALG, self._public)

    @classmethod
    def generate(cls, name: str) -> Self:
        """A key with a fresh random seed."""
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def name(self) -> str:
        """Key name."""
        return self._name

    @property
    def key_id(self) -> bytes:
        """4-byte key ID (of this key's type)."""
        return self._key_id

    @property
    def public_key(self) -> bytes:
        """Raw 32-byte Ed25519 public key."""
        return self._public

    @property
    def skey(self) -> str:
        """Secret key string ``PRIVATE+KEY+<name>+<hex id>+base64(type || seed)``. Keep secret."""
        seed = self._key.private_bytes_raw()
        return f"PRIVATE+KEY+{self._name}+{self._key_id.hex()}+" + _b64encode(bytes([self._ALG]) + seed)

    @property
    def vkey(self) -> str:
        """Public verifier key string ``<name>+<hex id>+base64(type || pubkey)``."""
        return f"{self._name}+{self._key_id.hex()}+" + _b64encode(bytes([self._ALG]) + self._public)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, key_id={self._key_id.hex()})"


class Signer(_Ed25519Secret):
    """An Ed25519 note signer (signature type 0x01), e.g. the ledger's checkpoint key."""

    __slots__ = ()
    _ALG = ALG_ED25519

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Load ``PRIVATE+KEY+<name>+<hex id>+base64(0x01 || seed32)``; checks the key ID."""
        name, hex_id, material = _split_skey(skey)
        if len(material) != 33 or material[0] != ALG_ED25519:
            raise MalformedKeyError("signer key is not an Ed25519 (0x01) seed")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
        if signer.key_id.hex() != hex_id:
            raise MalformedKeyError(
                f"key ID {hex_id} does not match the key (expected {signer.key_id.hex()})"
            )
        return signer

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def verifier(self) -> Verifier:
        """The matching :class:`Verifier`."""
        return Verifier(self._name, self._public)


class Verifier:
    """Verifies plain Ed25519 note signatures (type 0x01)."""

    __slots__ = ("_key", "_key_id", "_name", "_public")

    def __init__(self, name: str, public_key: bytes) -> None:
        """Build from a key name and a raw 32-byte Ed25519 public key."""
        if not _valid_name(name):
            raise MalformedKeyError(f"invalid key name {name!r}")
        if len(public_key) != 32:
            raise MalformedKeyError("Ed25519 public keys are 32 bytes")
        self._name = name
        self._public = bytes(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self._public)
        self._key_id = key_id_for(name, ALG_ED25519, self._public)

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex id>+base64(0x01 || pubkey32)``, splitting at the first two ``+``.

        Raises:
            MalformedKeyError: bad syntax, a type other than 0x01, or a key ID that does not
                match the name and key.
        """
        name, hex_id, material = _split_vkey(vkey.strip())
        if material[0] != ALG_ED25519 or len(material) != 33:
            raise MalformedKeyError("verifier key is not an Ed25519 (0x01) key")
        verifier = cls(name, material[1:])
        if verifier.key_id.hex() != hex_id:
            raise MalformedKeyError(f"key ID {hex_id} does not match the key")
        return verifier

    @property
    def name(self) -> str:
        """Key name."""
        return self._name

    @property
    def key_id(self) -> bytes:
        """4-byte key ID (type 0x01)."""
        return self._key_id

    @property
    def public_key(self) -> bytes:
        """Raw 32-byte Ed25519 public key."""
        return self._public

    @property
    def vkey(self) -> str:
        """This key as a verifier key string."""
        return f"{self._name}+{self._key_id.hex()}+" + _b64encode(bytes([ALG_ED25519]) + self._public)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Verifier({self._name!r}, key_id={self._key_id.hex()})"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID and the signature bytes after the ID."""

    name: str
    key_id: bytes
    signature: bytes

    @property
    def line(self) -> str:
        """The signature line, with its trailing newline."""
        return f"{_DASH}{self.name} {_b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class SignedNote:
    """An opened note: its text, all signature lines, and the names of the keys that verified."""

    text: str
    signatures: list[NoteSignature] = field(default_factory=list)
    verified_by: list[str] = field(default_factory=list)


def _check_unicode(text: str) -> None:
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise MalformedNoteError("note is not valid Unicode (lone surrogate)") from None


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if _CONTROL.search(text) is not None:
        raise MalformedNoteError("note text contains a control character other than newline")
    _check_unicode(text)


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_DASH):
        raise MalformedNoteError(f"signature line must start with an em dash: {line[:40]!r}")
    name, space, b64 = line[len(_DASH) :].partition(" ")
    if not space or not _valid_name(name):
        raise MalformedNoteError(f"bad key name on signature line: {line[:60]!r}")
    try:
        raw = _b64decode(b64)
    except ValueError:
        raise MalformedNoteError(f"signature of {name} is not valid base64") from None
    if len(raw) < 5:
        raise MalformedNoteError(f"signature of {name} is too short")
    return NoteSignature(name=name, key_id=raw[:4], signature=raw[4:])


def _split_note(note: str) -> tuple[str, list[NoteSignature]]:
    if _CONTROL.search(note) is not None:
        raise MalformedNoteError("note contains a control character other than newline")
    _check_unicode(note)
    cut = note.rfind("\n\n")
    if cut < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note carries more than {MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in lines]


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` with every signer and return the signed note.

    ``text`` MUST end with a newline and contain no control characters besides newlines.
    Output: ``text + "\\n"`` followed by one ``— <name> base64(key ID || sig)\\n`` line per
    signer, in the given order.

    Raises:
        MalformedNoteError: the text is not a valid note text or no signer is given.
    """
    _check_text(text)
    if not signers:
        raise MalformedNoteError("a note needs at least one signature")
    message = text.encode()
    lines = [NoteSignature(signer.name, signer.key_id, signer.sign(message)).line for signer in signers]
    return text + "\n" + "".join(lines)


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> SignedNote:
    """Parse a signed note and check its signatures against the trusted ``verifiers``.

    A signature matches a verifier when both the key name and the key ID are equal. Signatures
    from unknown keys are kept in ``signatures`` but otherwise ignored (spec: MUST ignore).

    Returns:
        the note, with ``verified_by`` listing the names of the verifiers whose signature
        verified (in note order, without duplicates).

    Raises:
        MalformedNoteError: bad syntax, control characters, > ``MAX_SIGNATURES`` lines.
        InvalidSignatureError: a signature from a trusted key does not verify (the whole note
            is rejected, as the spec recommends).
        UnknownKeyError: no signature is from a trusted key.
    """
    text, signatures = _split_note(note)
    by_identity = {(verifier.name, verifier.key_id): verifier for verifier in verifiers}
    message = text.encode()
    verified_by: list[str] = []
    for signature in signatures:
        verifier = by_identity.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        if not verifier.verify(message, signature.signature):
            raise InvalidSignatureError(
                f"signature by {signature.name} ({signature.key_id.hex()}) does not verify"
            )
        if signature.name not in verified_by:
            verified_by.append(signature.name)
    if not verified_by:
        known = ", ".join(f"{v.name}+{v.key_id.hex()}" for v in verifiers) or "none"
        raise UnknownKeyError(f"note carries no signature from a trusted key (trusted: {known})")
    return SignedNote(text=text, signatures=signatures, verified_by=verified_by)


def add_signatures(note: str, extra_lines: Sequence[str]) -> str:
    """Append signature lines (e.g. witness cosignatures) to a signed note.

    Each line is ``— <name> <base64>``, with or without its trailing newline. Lines already
    present are not duplicated. Signatures are not verified here: use :func:`open_note`.

    Raises:
        MalformedNoteError: the note or a line is malformed, or the result would carry more
            than ``MAX_SIGNATURES`` signatures.
    """
    _, existing = _split_note(note)
    present = {signature.line for signature in existing}
    out = note
    for raw in extra_lines:
        signature = _parse_signature_line(raw.removesuffix("\n"))
        if signature.line in present:
            continue
        present.add(signature.line)
        out += signature.line
    if len(present) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note would carry more than {MAX_SIGNATURES} signatures")
    return out


@dataclass(frozen=True)
class Checkpoint:
    """A c2sp.org/tlog-checkpoint body: origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or _CONTROL.search(self.origin):
            raise MalformedNoteError("checkpoint origin must be a non-empty single line")
        if not 0 <= self.size < 2**64:
            raise MalformedNoteError("checkpoint size must fit in 64 bits")
        if len(self.root_hash) != 32:
            raise MalformedNoteError("checkpoint root hash must be 32 bytes")
        for line in self.extensions:
            if not line or "\n" in line or _CONTROL.search(line):
                raise MalformedNoteError("checkpoint extension lines must be non-empty lines")

    def to_text(self) -> str:
        """Return the note text ``origin\\nsize\\nbase64(root)\\n`` plus extension lines."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Strictly parse a checkpoint note *text* (not the signed note: see :func:`open_checkpoint`).

        Raises:
            MalformedNoteError: fewer than three lines, missing final newline, a size with
                leading zeros or non-digits, a root that is not base64 of 32 bytes, or an empty
                extension line.
        """
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedNoteError("checkpoint needs origin, size and root hash lines")
        origin, size_line, root_line, *extensions = lines
        if not size_line.isascii() or not size_line.isdigit():
            raise MalformedNoteError(f"checkpoint size {size_line!r} is not a decimal number")
        if len(size_line) > 1 and size_line[0] == "0":
            raise MalformedNoteError(f"checkpoint size {size_line!r} has leading zeros")
        try:
            root = _b64decode(root_line)
        except ValueError:
            raise MalformedNoteError("checkpoint root hash is not valid base64") from None
        return cls(origin, int(size_line), root, tuple(extensions))


def open_checkpoint(note: str, verifiers: Sequence[NoteVerifier]) -> tuple[Checkpoint, SignedNote]:
    """:func:`open_note` then :meth:`Checkpoint.from_text`; same errors as both."""
    opened = open_note(note, verifiers)
    return Checkpoint.from_text(opened.text), opened


def _cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


class Cosigner(_Ed25519Secret):
    """A witness key producing c2sp.org/tlog-cosignature ``cosignature/v1`` Ed25519 signatures.

    Per the spec the key ID uses signature type ``0x04``; the signed message is
    ``"cosignature/v1\\n" + "time <timestamp>\\n" + <whole checkpoint text, extension lines
    included>`` and the signature is ``u64 big-endian timestamp || 64-byte Ed25519 signature``.
    The spec notes that the Ed25519 message does not commit to the cosigner name, so a key MUST
    NOT be shared between cosigners. Key strings use type byte 0x04 (``from_skey`` also accepts
    a plain 0x01 seed for the same key, as Go's transparency-dev/formats does).
    """

    __slots__ = ()
    _ALG = ALG_COSIGNATURE_V1

    @classmethod
    def from_skey(cls, skey: str) -> Cosigner:
        """Load ``PRIVATE+KEY+<name>+<hex id>+base64(0x04 || seed32)`` (or a 0x01 seed)."""
        name, hex_id, material = _split_skey(skey)
        if len(material) != 33 or material[0] not in (ALG_COSIGNATURE_V1, ALG_ED25519):
            raise MalformedKeyError("signer key is not an Ed25519 (0x04 or 0x01) seed")
        cosigner = cls(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
        expected = key_id_for(name, material[0], cosigner.public_key).hex()
        if hex_id != expected:
            raise MalformedKeyError(f"key ID {hex_id} does not match the key")
        return cosigner

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """Return the cosignature line (with trailing newline) for a checkpoint note *text*.

        ``timestamp`` is POSIX seconds, ``0 <= timestamp <= 2**63 - 1``. The caller is the one
        asserting it checked consistency before cosigning. Append the line with
        :func:`add_signatures`.

        Raises:
            MalformedNoteError: the text is not a checkpoint body.
            ValueError: the timestamp is out of range.
        """
        Checkpoint.from_text(checkpoint_text)
        if not 0 <= timestamp <= _TIMESTAMP_MAX:
            raise ValueError("cosignature timestamp must be in 0..2**63-1")
        raw = self._key.sign(_cosigned_message(checkpoint_text, timestamp))
        return NoteSignature(self._name, self._key_id, timestamp.to_bytes(8, "big") + raw).line

    def verifier(self) -> CosignatureVerifier:
        """The matching :class:`CosignatureVerifier`."""
        return CosignatureVerifier(self._name, self._public)


class CosignatureVerifier:
    """Verifies ``cosignature/v1`` Ed25519 cosignatures; usable wherever a NoteVerifier is.

    ``verify(message, signature)`` takes the checkpoint note text and the signature bytes after
    the key ID (``timestamp || sig``), so :func:`open_note` accepts log verifiers and witness
    verifiers in the same list.
    """

    __slots__ = ("_key", "_key_id", "_name", "_public")

    def __init__(self, name: str, public_key: bytes) -> None:
        """Build from a cosigner name and a raw 32-byte Ed25519 public key."""
        if not _valid_name(name):
            raise MalformedKeyError(f"invalid key name {name!r}")
        if len(public_key) != 32:
            raise MalformedKeyError("Ed25519 public keys are 32 bytes")
        self._name = name
        self._public = bytes(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self._public)
        self._key_id = key_id_for(name, ALG_COSIGNATURE_V1, self._public)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse a cosigner verifier key of type 0x04.

        A plain type 0x01 vkey of the same Ed25519 key is accepted too (its ID is checked as
        0x01, the verifier then uses the 0x04 ID), matching Go's transparency-dev/formats.

        Raises:
            MalformedKeyError: bad syntax, another type, or a mismatching key ID.
        """
        name, hex_id, material = _split_vkey(vkey.strip())
        if len(material) != 33 or material[0] not in (ALG_COSIGNATURE_V1, ALG_ED25519):
            raise MalformedKeyError("verifier key is not an Ed25519 cosigner (0x04) key")
        if key_id_for(name, material[0], material[1:]).hex() != hex_id:
            raise MalformedKeyError(f"key ID {hex_id} does not match the key")
        return cls(name, material[1:])

    @property
    def name(self) -> str:
        """Cosigner name."""
        return self._name

    @property
    def key_id(self) -> bytes:
        """4-byte key ID (type 0x04)."""
        return self._key_id

    @property
    def public_key(self) -> bytes:
        """Raw 32-byte Ed25519 public key."""
        return self._public

    @property
    def vkey(self) -> str:
        """This key as a type 0x04 verifier key string."""
        return f"{self._name}+{self._key_id.hex()}+" + _b64encode(bytes([ALG_COSIGNATURE_V1]) + self._public)

    @staticmethod
    def timestamp_of(signature: bytes) -> int:
        """The POSIX timestamp inside a cosignature (signature bytes after the key ID)."""
        if len(signature) != 72:
            raise MalformedNoteError("an Ed25519 cosignature is 8 + 64 bytes")
        return int.from_bytes(signature[:8], "big")

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` = ``timestamp || sig`` cosigns the checkpoint text ``message``."""
        if len(signature) != 72:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > _TIMESTAMP_MAX:
            return False
        try:
            text = message.decode()
        except UnicodeDecodeError:
            return False
        if text.count("\n") < 3:
            return False
        try:
            self._key.verify(signature[8:], _cosigned_message(text, timestamp))
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"CosignatureVerifier({self._name!r}, key_id={self._key_id.hex()})"
