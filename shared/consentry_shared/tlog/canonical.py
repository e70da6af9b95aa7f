"""RFC 8785 (JSON Canonicalization Scheme) bytes for ledger leaves.

Errors: :class:`~consentry_shared.tlog.errors.CanonicalizationError` (a ``TlogError`` and a
``ValueError``) for every value that has no canonical form we accept.

Why a fast path is correct: for values without floats, ``json.dumps`` with sorted keys, compact
separators and ``ensure_ascii=False`` emits exactly the JCS serialisation. Python escapes the
same characters JCS does (``"``, ``\\``, U+0000..U+001F, using ``\\b \\t \\n \\f \\r`` and lower-case
``\\u00xx`` for the rest) and leaves everything else literal. The one difference is key order:
JCS sorts by UTF-16 code units, Python by code points, and the two disagree only when a key
contains a character outside the Basic Multilingual Plane (surrogates D800-DFFF sort below
E000-FFFF in UTF-16). Such objects, and integral floats (which JCS prints without ``.0``),
take the slower, exact serializer below.
"""

from __future__ import annotations

import json
import math

from consentry_shared.tlog.errors import CanonicalizationError

__all__ = ["canonical_json"]

_MAX_SAFE = 2**53 - 1
_BMP_MAX = "\uffff"

_dumps = json.dumps


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Accepted values: ``None``, ``bool``, ``int`` with ``|n| <= 2**53 - 1``, ``str`` (valid
    Unicode, no lone surrogates), integral ``float`` within the same safe range (written as an
    integer, e.g. ``1.0`` -> ``1``, ``-0.0`` -> ``0``), ``list``/``tuple`` and ``dict`` with
    ``str`` keys, nested arbitrarily (no cycles). Subclasses of these (``StrEnum``, ``IntEnum``)
    are written as their base value.

    Raises:
        CanonicalizationError: for anything else, including non-integral floats, NaN and
            infinities, integers outside the safe range and non-string keys.

    The output is deterministic: equal inputs give equal bytes, and it equals the output of
    any conforming JCS implementation for the accepted domain.
    """
    try:
        text = _dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise CanonicalizationError(f"value has no canonical JSON form: {exc}") from None
    # json.dumps silently accepts things JCS forbids (int keys, huge ints) and writes floats
    # its own way; one pass over the (now known to be acyclic) value decides.
    try:
        exact = _scan(value)
    except RecursionError:
        raise CanonicalizationError("value is nested too deeply") from None
    if exact:
        text = _serialize(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("value contains a lone surrogate (invalid Unicode)") from None


def _scan(value: object) -> bool:
    """Validate ``value`` for JCS; True when the json.dumps output cannot be used as is.

    The hot path: plain dicts, lists, strings, ints, bools and None are checked inline, so
    only containers cost a call. Anything else goes to :func:`_scan_generic`.
    """
    exact = False
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise CanonicalizationError(f"object key {key!r} is not a string")
            if not key.isascii() and key and max(key) > _BMP_MAX:
                exact = True
            if type(item) is str or type(item) is bool or item is None:
                continue
            if type(item) is int:
                if -_MAX_SAFE <= item <= _MAX_SAFE:
                    continue
                raise CanonicalizationError(f"integer {item} is outside the JSON safe range")
            if _scan(item):
                exact = True
        return exact
    if type(value) is list or type(value) is tuple:
        for item in value:
            if type(item) is str or type(item) is bool or item is None:
                continue
            if type(item) is int:
                if -_MAX_SAFE <= item <= _MAX_SAFE:
                    continue
                raise CanonicalizationError(f"integer {item} is outside the JSON safe range")
            if _scan(item):
                exact = True
        return exact
    return _scan_generic(value)


def _scan_generic(value: object) -> bool:
    """:func:`_scan` for every type, subclasses and floats included (iterative, slower)."""
    exact = False
    stack: list[object] = [value]
    pop = stack.pop
    push_all = stack.extend
    while stack:
        item = pop()
        if type(item) is str or type(item) is bool or item is None:
            continue
        if type(item) is int:
            if not -_MAX_SAFE <= item <= _MAX_SAFE:
                raise CanonicalizationError(f"integer {item} is outside the JSON safe range")
            continue
        if type(item) is dict:
            for key in item:
                if not isinstance(key, str):
                    raise CanonicalizationError(f"object key {key!r} is not a string")
                if not key.isascii() and key and max(key) > _BMP_MAX:
                    exact = True
            push_all(item.values())
            continue
        if type(item) is list or type(item) is tuple:
            push_all(item)
            continue
        if isinstance(item, float):
            _check_float(item)
            exact = True
            continue
        # Subclasses of the accepted types (enums, OrderedDict...): json.dumps took them.
        if isinstance(item, str):
            continue
        if isinstance(item, int):
            stack.append(int(item))
        elif isinstance(item, dict):
            stack.append(dict(item))
        elif isinstance(item, list | tuple):
            push_all(item)
        else:  # pragma: no cover - json.dumps already rejected it
            raise CanonicalizationError(f"unsupported type {type(item).__name__}")
    return exact


def _check_float(number: float) -> int:
    if not math.isfinite(number) or number != math.floor(number):
        raise CanonicalizationError(f"float {number!r} is not integral; ledger values use ints")
    as_int = int(number)
    if not -_MAX_SAFE <= as_int <= _MAX_SAFE:
        raise CanonicalizationError(f"float {number!r} is outside the JSON safe integer range")
    return as_int


def _utf16_key(item: tuple[str, object]) -> bytes:
    return item[0].encode("utf-16-be", "surrogatepass")


def _serialize(value: object) -> str:
    """Exact JCS serializer for the rare values the fast path cannot take (already validated)."""
    if value is None or isinstance(value, bool | str):
        return _dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return str(_check_float(value))
    if isinstance(value, list | tuple):
        return "[" + ",".join(_serialize(element) for element in value) + "]"
    if isinstance(value, dict):
        members = sorted(value.items(), key=_utf16_key)
        return (
            "{"
            + ",".join(
                _dumps(key, ensure_ascii=False) + ":" + _serialize(element) for key, element in members
            )
            + "}"
        )
    raise CanonicalizationError(f"unsupported type {type(value).__name__}")  # pragma: no cover
