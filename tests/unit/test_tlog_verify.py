"""Offline verification of an export: every kind of tampering is caught and named."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from consentry_shared.tlog import (
    Checkpoint,
    Cosigner,
    MalformedKeyError,
    Signer,
    VerificationError,
    add_signatures,
    decode_entry_bundle,
    encode_entry_bundle,
    leaf_hashes,
    root_from_leaf_hashes,
    sign_note,
    verify_export,
    write_export,
)

ORIGIN = "consentry.example/ledger"


class Log:
    """Entries that look like ledger leaves, a signing key and an export directory."""

    def __init__(self, directory: Path, size: int = 600) -> None:
        self.directory = directory
        self.signer = Signer.generate(ORIGIN)
        self.vkey = self.signer.vkey
        self.entries = [
            f'{{"index":{i},"verdict":"CONSENT","pad":"{"x" * (i % 40)}"}}'.encode() for i in range(size)
        ]

    def checkpoint(self, size: int, origin: str = ORIGIN, signer: Signer | None = None) -> str:
        root = root_from_leaf_hashes(leaf_hashes(self.entries[:size]))
        return sign_note(Checkpoint(origin, size, root).to_text(), [signer or self.signer])

    def export(self, size: int) -> None:
        write_export(
            self.directory,
            self.checkpoint(size),
            self.vkey,
            lambda start, end: self.entries[start:end],
        )

    def verify(self, since: str | None = None) -> None:
        verify_export(self.directory, self.vkey, since=since)


def _failure(log: Log, since: str | None = None) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        log.verify(since=since)
    return caught.value


@pytest.fixture
def log(tmp_path: Path) -> Log:
    log = Log(tmp_path)
    log.export(300)
    return log


def test_valid_export_verifies(log: Log) -> None:
    report = verify_export(log.directory, log.vkey)
    assert report.size == report.entries_checked == 300
    assert report.origin == ORIGIN
    assert report.root_hash == root_from_leaf_hashes(leaf_hashes(log.entries[:300]))
    assert report.checkpoint_note == (log.directory / "checkpoint").read_text()


@pytest.mark.parametrize("index", [0, 17, 255, 256, 299])
def test_flipped_byte_in_a_bundle_names_the_entry(log: Log, index: int) -> None:
    bundle = log.directory / ("tile/entries/000" if index < 256 else "tile/entries/001.p/44")
    entries = decode_entry_bundle(bundle.read_bytes())
    position = index % 256
    data = bytearray(bundle.read_bytes())
    offset = sum(2 + len(e) for e in entries[:position]) + 2 + 5  # a byte inside the entry
    data[offset] ^= 0x20
    bundle.write_bytes(bytes(data))
    error = _failure(log)
    assert error.code == "entry-mismatch"
    assert error.index == index
    assert f"entry {index} " in str(error)


def test_truncated_bundle_is_malformed_and_names_the_file(log: Log) -> None:
    bundle = log.directory / "tile/entries/000"
    bundle.write_bytes(bundle.read_bytes()[:-3])
    error = _failure(log)
    assert error.code == "malformed"
    assert "tile/entries/000" in str(error)
    assert error.index == 255


def test_bundle_cut_on_an_entry_boundary_is_malformed(log: Log) -> None:
    bundle = log.directory / "tile/entries/000"
    entries = decode_entry_bundle(bundle.read_bytes())
    bundle.write_bytes(encode_entry_bundle(entries[:200]))
    error = _failure(log)
    assert (error.code, error.index) == ("malformed", 200)
    assert "holds 200 entries, expected 256" in str(error)


def test_missing_files_are_malformed(log: Log) -> None:
    (log.directory / "tile/0/000").unlink()
    error = _failure(log)
    assert error.code == "malformed"
    assert "tile/0/000" in str(error)
    (log.directory / "checkpoint").unlink()
    assert _failure(log).code == "malformed"


def test_tampered_checkpoint_root_is_a_bad_signature(log: Log) -> None:
    path = log.directory / "checkpoint"
    lines = path.read_text().split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 1
    lines[2] = base64.b64encode(bytes(root)).decode()
    path.write_text("\n".join(lines))
    error = _failure(log)
    assert error.code == "bad-signature"
    assert error.index is None


def test_checkpoint_signed_by_another_key_is_a_bad_signature(log: Log) -> None:
    (log.directory / "checkpoint").write_text(log.checkpoint(300, signer=Signer.generate(ORIGIN)))
    assert _failure(log).code == "bad-signature"


def test_garbled_checkpoint_is_malformed(log: Log) -> None:
    (log.directory / "checkpoint").write_text("not a note")
    assert _failure(log).code == "malformed"


def test_bad_vkey_is_a_caller_error(log: Log) -> None:
    with pytest.raises(MalformedKeyError):
        verify_export(log.directory, "not a key")


def test_entry_and_level0_tile_rewritten_together_is_a_tile_mismatch(log: Log) -> None:
    # The attacker rewrites entry 10 and re-hashes its level-0 tile; the level-1 tile betrays it.
    log.entries[10] = b'{"index":10,"verdict":"VIOLATION"}'
    tampered = log.entries[:256]
    (log.directory / "tile/entries/000").write_bytes(encode_entry_bundle(tampered))
    (log.directory / "tile/0/000").write_bytes(b"".join(leaf_hashes(tampered)))
    error = _failure(log)
    assert error.code == "tile-mismatch"
    assert error.index == 0
    assert "entries [0, 256)" in str(error)


def test_all_tiles_rewritten_is_a_root_mismatch(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.export(300)
    honest_checkpoint = (tmp_path / "checkpoint").read_text()
    log.entries[10] = b'{"index":10,"verdict":"VIOLATION"}'
    forged = Log(tmp_path / "forged")
    forged.entries, forged.signer, forged.vkey = log.entries, log.signer, log.vkey
    forged.export(300)  # a consistent export of the rewritten log...
    for path in (tmp_path / "forged" / "tile").rglob("*"):
        if path.is_file():
            target = tmp_path / path.relative_to(tmp_path / "forged")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (tmp_path / "checkpoint").write_text(honest_checkpoint)  # ...under the honest checkpoint
    error = _failure(log)
    assert error.code == "root-mismatch"


def test_entry_check_runs_in_order_and_names_the_entry(log: Log) -> None:
    seen: list[int] = []

    def check(index: int, leaf: bytes) -> str | None:
        seen.append(index)
        if index != int(leaf.split(b",")[0].split(b":")[1]):
            return "index field does not match the position"
        return None

    verify_export(log.directory, log.vkey, entry_check=check)
    assert seen == list(range(300))

    def reject_violations(index: int, leaf: bytes) -> str | None:
        return "verdict is VIOLATION" if index == 123 else None

    with pytest.raises(VerificationError) as caught:
        verify_export(log.directory, log.vkey, entry_check=reject_violations)
    assert (caught.value.code, caught.value.index) == ("entry-invalid", 123)
    assert "entry 123: verdict is VIOLATION" in str(caught.value)


def test_re_export_after_appending_is_incremental_and_verifies(log: Log) -> None:
    first = verify_export(log.directory, log.vkey)
    stats = write_export(log.directory, log.checkpoint(600), log.vkey, lambda s, e: log.entries[s:e])
    assert (stats.previous_size, stats.entries_written) == (300, 300)
    second = verify_export(log.directory, log.vkey, since=first.checkpoint_note)
    assert second.size == 600


@pytest.mark.parametrize("old_size", [1, 2, 100, 255, 256, 257, 299, 300])
def test_since_an_older_checkpoint_passes(tmp_path: Path, old_size: int) -> None:
    log = Log(tmp_path, 600)
    log.export(600)
    log.verify(since=log.checkpoint(old_size))


def test_since_a_forged_checkpoint_fails(log: Log) -> None:
    log.export(600)
    # A forged root without the log's signature.
    forged_text = Checkpoint(ORIGIN, 200, b"\x07" * 32).to_text()
    stranger = Signer.generate(ORIGIN)
    assert _failure(log, since=sign_note(forged_text, [stranger])).code == "bad-signature"
    # A fork the log itself signed (split view): the consistency proof exposes it.
    error = _failure(log, since=sign_note(forged_text, [log.signer]))
    assert error.code == "inconsistent"
    assert "size 200" in str(error)
    # Same size, different root.
    error = _failure(log, since=sign_note(Checkpoint(ORIGIN, 600, b"\x07" * 32).to_text(), [log.signer]))
    assert error.code == "inconsistent"


def test_since_a_larger_checkpoint_is_a_rollback(tmp_path: Path) -> None:
    log = Log(tmp_path, 600)
    log.export(300)
    error = _failure(log, since=log.checkpoint(301))
    assert error.code == "rollback"


def test_since_another_log_is_inconsistent(log: Log) -> None:
    error = _failure(log, since=log.checkpoint(100, origin="elsewhere.example/log"))
    assert error.code == "inconsistent"


def test_since_the_empty_and_same_checkpoint(log: Log) -> None:
    log.verify(since=log.checkpoint(0))
    log.verify(since=log.checkpoint(300))


def test_witness_cosignatures_do_not_disturb_verification(log: Log) -> None:
    path = log.directory / "checkpoint"
    note = path.read_text()
    text = note[: note.rindex("\n\n") + 1]
    path.write_text(add_signatures(note, [Cosigner.generate("witness.example").cosign(text, 1)]))
    log.verify()


def test_empty_log_verifies(tmp_path: Path) -> None:
    log = Log(tmp_path, 0)
    log.export(0)
    report = verify_export(tmp_path, log.vkey)
    assert report.size == 0


def test_error_carries_its_code_in_str() -> None:
    error = VerificationError("entry-mismatch", "entry 5 differs", 5)
    assert str(error) == "[entry-mismatch] entry 5 differs"
    assert (error.code, error.index) == ("entry-mismatch", 5)
