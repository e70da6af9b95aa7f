"""The witness's add-checkpoint rules (c2sp.org/tlog-witness), answer by answer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from consentry.proofs import SIZE_CONTENT_TYPE, Witness, WitnessState, add_checkpoint_request
from consentry_shared.tlog import (
    Checkpoint,
    Cosigner,
    MemoryTree,
    Signer,
    open_note,
    sign_note,
)

ORIGIN = "log.example/witnessed"
LOG = Signer.generate(ORIGIN)
WITNESS = Cosigner.generate("witness.example/w1")
TREE = MemoryTree([hashlib.sha256(n.to_bytes(4, "big")).digest() for n in range(40)])


def note(size: int, root: bytes | None = None, signer: Signer = LOG) -> str:
    checkpoint = Checkpoint(origin=signer.name, size=size, root_hash=root or TREE.root(size))
    return sign_note(checkpoint.to_text(), [signer])


def make_witness(tmp_path: Path) -> Witness:
    return Witness(WITNESS, [LOG.verifier()], WitnessState(tmp_path), clock=lambda: 1_790_000_000.5)


def add(
    witness: Witness, old: int, new: int, proof: list[bytes] | None = None, body: str | None = None
) -> tuple:
    if proof is None:
        proof = TREE.consistency_proof(old, new) if old else []
    answer = witness.add_checkpoint(add_checkpoint_request(old, proof, body or note(new)))
    return answer.status, answer.body, answer.content_type


def test_the_first_checkpoint_is_cosigned_and_remembered(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    status, body, _ = add(witness, 0, 10)
    assert status == 200
    opened = open_note(note(10) + body, [WITNESS.verifier()])
    assert opened.verified_by == [WITNESS.name]
    assert body.startswith(f"— {WITNESS.name} ")
    assert witness.last_cosigned(ORIGIN) == Checkpoint(ORIGIN, 10, TREE.root(10))


def test_growth_with_a_valid_proof_is_cosigned_and_the_same_checkpoint_again_too(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    assert add(witness, 0, 10)[0] == 200
    assert add(witness, 10, 33)[0] == 200
    assert add(witness, 33, 33)[0] == 200
    last = witness.last_cosigned(ORIGIN)
    assert last is not None
    assert last.size == 33


def test_an_old_size_that_is_not_the_last_cosigned_gets_409_with_that_size(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    add(witness, 0, 10)
    assert add(witness, 0, 20) == (409, "10\n", SIZE_CONTENT_TYPE)
    assert add(witness, 5, 20) == (409, "10\n", SIZE_CONTENT_TYPE)


def test_the_same_size_with_another_root_gets_409(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    add(witness, 0, 10)
    status, body, content_type = add(witness, 10, 10, [], note(10, root=b"\x01" * 32))
    assert (status, body, content_type) == (409, "10\n", SIZE_CONTENT_TYPE)


def test_a_proof_that_does_not_verify_gets_422_and_nothing_is_cosigned(tmp_path: Path) -> None:
    witness = make_witness(tmp_path)
    add(witness, 0, 10)
    forked = MemoryTree([b"\x07" * 32] * 20)
    assert add(witness, 10, 20, forked.consistency_proof(10, 20), note(20, root=forked.root(20)))[0] == 422
    assert add(witness, 10, 20, [])[0] == 422
    assert witness.last_cosigned(ORIGIN) == Checkpoint(ORIGIN, 10, TREE.root(10))


@pytest.mark.parametrize(
    ("request_body", "status"),
    [
        ("old 0\n" + note(5), 400),  # no blank line
        ("old 01\n\n" + note(5), 400),  # leading zero
        ("new 0\n\n" + note(5), 400),
        ("old 0\nnot base64!\n\n" + note(5), 400),
        ("old 0\n" + "AAAA\n" * 64 + "\n" + note(5), 400),  # more than 63 proof lines
        ("old 9\n\n" + note(5), 400),  # old size above the checkpoint's
        ("old 0\n\nnot a checkpoint\n", 400),
        ("old 0\n\n" + note(5, signer=Signer.generate("other.example/log")), 404),
        ("old 0\n\n" + note(5, signer=Signer.generate(ORIGIN)), 403),  # same origin, another key
    ],
)
def test_bad_requests(tmp_path: Path, request_body: str, status: int) -> None:
    answer = make_witness(tmp_path).add_checkpoint(request_body)
    assert answer.status == status, answer.body
    assert WitnessState(tmp_path).latest(ORIGIN) is None


def test_the_state_survives_a_new_witness_process(tmp_path: Path) -> None:
    add(make_witness(tmp_path), 0, 12)
    assert add(make_witness(tmp_path), 0, 20) == (409, "12\n", SIZE_CONTENT_TYPE)
    assert add(make_witness(tmp_path), 12, 20)[0] == 200
