"""C2SP signed notes, checkpoints and cosignatures against Go's and real-world vectors."""

from __future__ import annotations

import base64

import pytest

from consentry_shared.tlog import (
    Checkpoint,
    CosignatureVerifier,
    Cosigner,
    InvalidSignatureError,
    MalformedKeyError,
    MalformedNoteError,
    NoteError,
    Signer,
    UnknownKeyError,
    Verifier,
    add_signatures,
    key_id_for,
    open_checkpoint,
    open_note,
    sign_note,
)

# golang.org/x/mod/sumdb/note test key and signature (DESIGN §4).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_LINE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)
PETER_NOTE = PETER_TEXT + "\n" + PETER_LINE

# c2sp.org/signed-note example key and signature.
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ON"
    "ncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# Keys from transparency-dev/formats note tests: a 0x01 key whose base64 contains '+', and a
# real witness's 0x04 cosignature key.
PLUS_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

# A real checkpoint of a public static-CT log with its log signature (type 0x01), an RFC 6962
# STH signature (type 0x05, unknown to us) and witness cosignatures (type 0x04).
ARCHE_VKEY = "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
ARCHE_NOTE = """arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
"""  # noqa: E501


def _flip_signature_byte(note: str, line_prefix: str, position: int) -> str:
    lines = note.split("\n")
    for number, line in enumerate(lines):
        if line.startswith(line_prefix):
            dash_name, b64 = line.rsplit(" ", 1)
            raw = bytearray(base64.b64decode(b64))
            raw[position] ^= 0x01
            lines[number] = f"{dash_name} {base64.b64encode(bytes(raw)).decode()}"
    return "\n".join(lines)


def test_go_vector_signs_to_the_exact_signature_line() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_id == bytes.fromhex("c74f20a3")
    assert signer.vkey == PETER_VKEY
    assert signer.skey == PETER_SKEY
    assert sign_note(PETER_TEXT, [signer]) == PETER_NOTE


def test_go_vector_verifies_with_the_vkey() -> None:
    verifier = Verifier.from_vkey(PETER_VKEY)
    assert (verifier.name, verifier.key_id.hex(), verifier.vkey) == (
        "PeterNeumann",
        "c74f20a3",
        PETER_VKEY,
    )
    opened = open_note(PETER_NOTE, [verifier])
    assert opened.text == PETER_TEXT
    assert opened.verified_by == ["PeterNeumann"]
    assert [s.line for s in opened.signatures] == [PETER_LINE]


@pytest.mark.parametrize("position", [4, 20, 67])  # after the 4-byte key ID
def test_flipped_signature_byte_is_rejected(position: int) -> None:
    tampered = _flip_signature_byte(PETER_NOTE, "— PeterNeumann", position)
    with pytest.raises(InvalidSignatureError):
        open_note(tampered, [Verifier.from_vkey(PETER_VKEY)])


def test_flipped_text_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        open_note(PETER_NOTE.replace("answer", "answeR"), [Verifier.from_vkey(PETER_VKEY)])


def test_unknown_key_is_refused() -> None:
    other = Signer.generate("PeterNeumann")  # same name, different key ID: still unknown
    with pytest.raises(UnknownKeyError):
        open_note(PETER_NOTE, [other.verifier()])
    with pytest.raises(UnknownKeyError):
        open_note(PETER_NOTE, [])
    # A flipped key ID makes the signature unknown rather than invalid (spec: ignore it).
    with pytest.raises(UnknownKeyError):
        open_note(_flip_signature_byte(PETER_NOTE, "— PeterNeumann", 0), [Verifier.from_vkey(PETER_VKEY)])


def test_c2sp_signed_note_vector() -> None:
    verifier = Verifier.from_vkey(C2SP_VKEY)
    assert verifier.public_key.hex() == ("e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4")
    assert open_note(C2SP_NOTE, [verifier]).text == "This is an example message.\n"


def test_vkey_is_split_at_the_first_two_plus_signs_only() -> None:
    verifier = Verifier.from_vkey(PLUS_VKEY)
    assert verifier.name == "TEST"
    assert verifier.key_id.hex() == "7997405c"
    assert verifier.vkey == PLUS_VKEY


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not lower hex
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        REMORA_VKEY,  # a cosignature (0x04) key is not a note (0x01) key
    ],
)
def test_bad_vkeys_are_rejected(vkey: str) -> None:
    with pytest.raises(MalformedKeyError):
        Verifier.from_vkey(vkey)


def test_bad_skeys_are_rejected() -> None:
    with pytest.raises(MalformedKeyError):
        Signer.from_skey(PETER_VKEY)
    with pytest.raises(MalformedKeyError):
        Signer.from_skey(PETER_SKEY.replace("c74f20a3", "00000000"))
    with pytest.raises(MalformedKeyError):
        Signer.generate("has+plus")


def test_generated_keys_round_trip() -> None:
    signer = Signer.generate("consentry.example/ledger")
    again = Signer.from_skey(signer.skey)
    assert again.vkey == signer.vkey
    verifier = Verifier.from_vkey(signer.vkey)
    assert verifier.key_id == key_id_for(signer.name, 0x01, signer.public_key)
    note = sign_note("hello\n", [signer, again])
    assert open_note(note, [verifier]).verified_by == [signer.name]


def test_multiple_signers_and_partial_trust() -> None:
    log, other = Signer.generate("log.example/a"), Signer.generate("log.example/b")
    note = sign_note("body\nwith\n\nblank line inside\n", [log, other])
    opened = open_note(note, [log.verifier()])
    assert opened.text == "body\nwith\n\nblank line inside\n"
    assert opened.verified_by == ["log.example/a"]
    assert [s.name for s in opened.signatures] == ["log.example/a", "log.example/b"]
    assert open_note(note, [other.verifier(), log.verifier()]).verified_by == [
        "log.example/a",
        "log.example/b",
    ]


@pytest.mark.parametrize(
    "note",
    [
        "no blank line\n— PeterNeumann AAAAAAA=\n",
        "text\n\n— PeterNeumann x08go/ZJ",  # no final newline
        "text\n\nPeterNeumann x08go/ZJkuBS9UG/Sffc=\n",  # no em dash
        "text\n\n— PeterNeumann not*base64\n",
        "text\n\n— PeterNeumann AAAA\n",  # shorter than key ID + 1
        "text\n\n— \n",
        "te\x00xt\n\n" + PETER_LINE,
        "lone \ud800 surrogate\n\n" + PETER_LINE,
        "text\n\n" + PETER_LINE * 101,
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(MalformedNoteError):
        open_note(note, [Verifier.from_vkey(PETER_VKEY)])


def test_sign_note_validates_text() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    with pytest.raises(MalformedNoteError):
        sign_note("no final newline", [signer])
    with pytest.raises(MalformedNoteError):
        sign_note("tab\tinside\n", [signer])
    with pytest.raises(MalformedNoteError):
        sign_note("fine\n", [])
    with pytest.raises(MalformedNoteError):
        sign_note("lone \udc00\n", [signer])


def test_checkpoint_text_round_trip() -> None:
    checkpoint = Checkpoint("example.com/log", 20852163, bytes(range(32)), ("ext one",))
    text = checkpoint.to_text()
    assert text == ("example.com/log\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next one\n")
    assert Checkpoint.from_text(text) == checkpoint
    assert Checkpoint.from_text("o\n0\n" + "A" * 43 + "=\n").size == 0


@pytest.mark.parametrize(
    "text",
    [
        "origin\n12\n",  # too few lines
        "origin\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  # no final newline
        "origin\n012\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # leading zero
        "origin\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "origin\n1e3\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "origin\n١٢\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # non-ASCII digits
        "origin\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",  # 31 bytes
        "origin\n12\nnot base64!\n",
        "\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",  # empty origin
        "origin\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",  # empty extension
        "origin\n18446744073709551616\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    ],
)
def test_checkpoint_parse_is_strict(text: str) -> None:
    with pytest.raises(MalformedNoteError):
        Checkpoint.from_text(text)


def test_real_checkpoint_with_witness_cosignature() -> None:
    log = Verifier.from_vkey(ARCHE_VKEY)
    witness = CosignatureVerifier.from_vkey(REMORA_VKEY)
    assert witness.key_id.hex() == "da77ade7"
    checkpoint, opened = open_checkpoint(ARCHE_NOTE, [log, witness])
    assert checkpoint.origin == "arche2025h1.staging.ct.transparency.dev"
    assert checkpoint.size == 1432088532
    assert opened.verified_by == ["arche2025h1.staging.ct.transparency.dev", "remora.n621.de"]
    cosignature = next(s for s in opened.signatures if s.name == "remora.n621.de")
    assert CosignatureVerifier.timestamp_of(cosignature.signature) == 1779573024
    # Only the witness trusted: the log's own signatures are unknown and ignored.
    assert open_note(ARCHE_NOTE, [witness]).verified_by == ["remora.n621.de"]
    with pytest.raises(InvalidSignatureError):
        open_note(ARCHE_NOTE.replace("1432088532", "1432088533"), [witness])
    with pytest.raises(InvalidSignatureError):  # the timestamp is covered by the signature
        open_note(_flip_signature_byte(ARCHE_NOTE, "— remora.n621.de", 11), [witness])


def test_cosignature_key_types() -> None:
    # A 0x01 vkey is accepted for the same Ed25519 key; its cosignature key ID uses 0x04.
    converted = CosignatureVerifier.from_vkey(PLUS_VKEY)
    plain = Verifier.from_vkey(PLUS_VKEY)
    assert converted.public_key == plain.public_key
    assert converted.key_id == key_id_for("TEST", 0x04, plain.public_key)
    assert converted.key_id != plain.key_id
    with pytest.raises(MalformedKeyError):
        CosignatureVerifier.from_vkey(REMORA_VKEY.replace("da77ade7", "da77ade8"))


def test_cosign_round_trip_and_add_signatures() -> None:
    log = Signer.generate("log.example")
    witness = Cosigner.generate("witness.example/w1")
    assert Cosigner.from_skey(witness.skey).vkey == witness.vkey
    plain = Signer.generate("witness.example/w2")  # a 0x01 skey works for the same key
    assert Cosigner.from_skey(plain.skey).public_key == plain.public_key
    assert base64.b64decode(witness.vkey.split("+", 2)[2])[0] == 0x04
    checkpoint = Checkpoint("log.example", 42, bytes(32), ("extension",))
    note = sign_note(checkpoint.to_text(), [log])
    line = witness.cosign(checkpoint.to_text(), 1_700_000_000)
    assert line.startswith("— witness.example/w1 ")
    assert line.endswith("\n")
    cosigned = add_signatures(note, [line, line.rstrip("\n")])  # duplicates are not added twice
    assert cosigned == note + line
    verifier = CosignatureVerifier.from_vkey(witness.vkey)
    opened = open_note(cosigned, [log.verifier(), verifier])
    assert opened.verified_by == ["log.example", "witness.example/w1"]
    assert CosignatureVerifier.timestamp_of(opened.signatures[1].signature) == 1_700_000_000
    # The witness signature is not a plain Ed25519 note signature over the text.
    assert not Verifier(witness.name, witness.public_key).verify(
        checkpoint.to_text().encode(), opened.signatures[1].signature[8:]
    )
    # Extension lines are covered.
    forged = cosigned.replace("extension", "extensioN")
    with pytest.raises(InvalidSignatureError):
        open_note(forged, [verifier])
    with pytest.raises(MalformedNoteError):
        witness.cosign("not a checkpoint\n", 1)
    with pytest.raises(ValueError, match="timestamp"):
        witness.cosign(checkpoint.to_text(), -1)
    with pytest.raises(MalformedNoteError):
        add_signatures(note, ["not a signature line"])


def test_errors_share_the_note_base() -> None:
    for error in (MalformedNoteError, MalformedKeyError, UnknownKeyError, InvalidSignatureError):
        assert issubclass(error, NoteError)
