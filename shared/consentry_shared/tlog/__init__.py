"""Transparency-log primitives for Consentry's ledger: pure code, no I/O except export files.

* :mod:`.canonical` — RFC 8785 canonical JSON, the bytes of every leaf.
* :mod:`.merkle` — RFC 6962/9162 hashing, compact ranges, inclusion and consistency proofs.
* :mod:`.note` — C2SP signed notes, checkpoints and witness cosignatures (Ed25519).
* :mod:`.tiles` — C2SP tlog-tiles paths, bundles and the incremental export writer.
* :mod:`.verify` — offline verification of an export (what auditors run).

Import from here: ``from consentry_shared.tlog import leaf_hash, verify_export``.

Errors. Everything raised on purpose derives from :class:`TlogError`; the ones that describe a
bad input value are also ``ValueError`` (plain ``ValueError`` is used for impossible arguments
such as a leaf index outside the tree)::

    TlogError(Exception)
    ├── CanonicalizationError(ValueError)   value has no RFC 8785 form (float, huge int, ...)
    ├── ProofError                          inclusion/consistency proof does not verify
    ├── NoteError
    │   ├── MalformedNoteError(ValueError)  note / signature line / checkpoint syntax
    │   ├── MalformedKeyError(ValueError)   bad skey / vkey string or key ID
    │   ├── UnknownKeyError                 no signature from a trusted key
    │   └── InvalidSignatureError           a trusted key's signature fails
    ├── TileError
    │   ├── MalformedTileError(ValueError)  truncated bundle, wrongly sized tile (.position)
    │   ├── EntryTooLargeError(ValueError)  entry > 65,535 bytes cannot go in a bundle
    │   └── ExportError                     rollback, wrong root, damaged previous export
    └── VerificationError                   export failed verification (.code, .index)
"""

from consentry_shared.tlog.canonical import canonical_json
from consentry_shared.tlog.errors import (
    CanonicalizationError,
    EntryTooLargeError,
    ExportError,
    InvalidSignatureError,
    MalformedKeyError,
    MalformedNoteError,
    MalformedTileError,
    NoteError,
    ProofError,
    TileError,
    TlogError,
    UnknownKeyError,
    VerificationError,
)
from consentry_shared.tlog.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    HashAt,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_from_leaf_hashes,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from consentry_shared.tlog.note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    MAX_SIGNATURES,
    Checkpoint,
    CosignatureVerifier,
    Cosigner,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    SignedNote,
    Signer,
    Verifier,
    add_signatures,
    key_id_for,
    open_checkpoint,
    open_note,
    sign_note,
)
from consentry_shared.tlog.tiles import (
    MAX_ENTRY_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    ExportStats,
    TileHashReader,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    hash_tiles_for,
    read_tile_hashes,
    tile_path,
    write_export,
)
from consentry_shared.tlog.verify import (
    BundleEntryCheck,
    EntryCheck,
    SplittableEntryCheck,
    VerifyReport,
    verify_export,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_ENTRY_SIZE",
    "MAX_SIGNATURES",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "BundleEntryCheck",
    "CanonicalizationError",
    "Checkpoint",
    "CompactRange",
    "CosignatureVerifier",
    "Cosigner",
    "EntryCheck",
    "EntryTooLargeError",
    "ExportError",
    "ExportStats",
    "HashAt",
    "InvalidSignatureError",
    "MalformedKeyError",
    "MalformedNoteError",
    "MalformedTileError",
    "MemoryTree",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "ProofError",
    "SignedNote",
    "Signer",
    "SplittableEntryCheck",
    "TileError",
    "TileHashReader",
    "TlogError",
    "UnknownKeyError",
    "VerificationError",
    "Verifier",
    "VerifyReport",
    "add_signatures",
    "canonical_json",
    "consistency_proof",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "entries_path",
    "hash_tiles_for",
    "inclusion_proof",
    "key_id_for",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "open_checkpoint",
    "open_note",
    "read_tile_hashes",
    "root_from_leaf_hashes",
    "sign_note",
    "subtree_hash",
    "tile_path",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "write_export",
]
