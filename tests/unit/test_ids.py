"""The fast uuid5 is uuid.uuid5."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from consentry_shared.ids import uuid5


@given(st.uuids(), st.text())
def test_uuid5_is_the_standard_one(namespace: uuid.UUID, name: str) -> None:
    try:
        expected = str(uuid.uuid5(namespace, name))
    except UnicodeEncodeError:
        return  # lone surrogates: neither can encode them
    assert uuid5(namespace, name) == expected
