"""IPTC / PLUS ``plus:DataMining`` in an XMP packet.

The property (namespace ``http://ns.useplus.org/ldf/xmp/1.0/``) holds one term of the PLUS
vocabulary ``http://ns.useplus.org/ldf/vocab/DMI-...``. It is read as an attribute of an
``rdf:Description``, as an element's text, or as an element's ``rdf:resource``; the bare term
(``DMI-PROHIBITED``) is accepted too, in any case. ``plus:OtherConstraints`` is reported in
``detail`` and the first ``Iptc4xmpExt:LinkedRightsExpr`` becomes ``policy_url``.

Decision table (signal ``iptc.data-mining``):

=============================================  ===========================================
``plus:DataMining``                            readings
=============================================  ===========================================
``DMI-UNSPECIFIED``                            ``unset`` for every purpose
``DMI-ALLOWED``                                ``not-reserved`` for every purpose
``DMI-PROHIBITED``                             ``reserved`` for every purpose
``DMI-PROHIBITED-AIMLTRAINING``                ``reserved`` for both training purposes
``DMI-PROHIBITED-GENAIMLTRAINING``             ``reserved`` for generative training
``DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING``  ``reserved`` for training and inference,
                                               ``not-reserved`` for search
``DMI-PROHIBITED-SEECONSTRAINT``,              ``constrained`` for every purpose: prohibited
``-SEEEMBEDDEDRIGHTSEXPR``,                    unless the other constraints / rights
``-SEELINKEDRIGHTSEXPR``                       expression (not evaluated here) say otherwise
any other value                                ``unknown`` for every purpose
no ``plus:DataMining``                         ``unset`` for every purpose
the packet is not well-formed XML              ``unknown`` for every purpose
=============================================  ===========================================

Several values in one packet (several descriptions) give one set of readings each; combining
them keeps the most restrictive.
"""

from __future__ import annotations

from typing import Final
from xml.etree.ElementTree import Element

from ._markup import parse_xml
from .base import (
    AI_PURPOSES,
    ALL_PURPOSES,
    GENERATIVE,
    SEARCH,
    TRAINING_PURPOSES,
    SignalParseError,
    SignalReading,
    Status,
    clip,
    unknown,
)

__all__ = ["DMI_VOCABULARY", "PLUS_NAMESPACE", "read_iptc_data_mining"]

SIGNAL: Final = "iptc.data-mining"
PLUS_NAMESPACE: Final = "http://ns.useplus.org/ldf/xmp/1.0/"
DMI_VOCABULARY: Final = "http://ns.useplus.org/ldf/vocab/"
_IPTC_EXT: Final = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

_SEARCH: Final = frozenset({SEARCH})
_TABLE: Final[dict[str, tuple[tuple[Status, frozenset[str]], ...]]] = {
    "DMI-UNSPECIFIED": (("unset", ALL_PURPOSES),),
    "DMI-ALLOWED": (("not-reserved", ALL_PURPOSES),),
    "DMI-PROHIBITED": (("reserved", ALL_PURPOSES),),
    "DMI-PROHIBITED-AIMLTRAINING": (("reserved", TRAINING_PURPOSES),),
    "DMI-PROHIBITED-GENAIMLTRAINING": (("reserved", frozenset({GENERATIVE})),),
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": (("reserved", AI_PURPOSES), ("not-reserved", _SEARCH)),
    "DMI-PROHIBITED-SEECONSTRAINT": (("constrained", ALL_PURPOSES),),
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": (("constrained", ALL_PURPOSES),),
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": (("constrained", ALL_PURPOSES),),
}
_SEE_WHAT: Final = {
    "DMI-PROHIBITED-SEECONSTRAINT": "see plus:OtherConstraints",
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": "see the embedded encoded rights expression (not evaluated)",
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": "see the linked encoded rights expression (not evaluated)",
}


def _packet(xmp: str | bytes) -> str | bytes:
    """The ``x:xmpmeta`` (or ``rdf:RDF``) element of ``xmp``, dropping packet wrappers and padding."""
    for start_tag, end_tag in (("<x:xmpmeta", "</x:xmpmeta>"), ("<rdf:RDF", "</rdf:RDF>")):
        if isinstance(xmp, bytes):
            start, end = xmp.find(start_tag.encode()), xmp.rfind(end_tag.encode())
        else:
            start, end = xmp.find(start_tag), xmp.rfind(end_tag)
        if start != -1 and end > start:
            return xmp[start : end + len(end_tag)]
    return xmp


def _values(root: Element, namespace: str, local: str) -> list[str]:
    """Every value of property ``namespace``+``local``: attributes, text, resources, list items."""
    name = f"{{{namespace}}}{local}"
    found: list[str] = []
    for element in root.iter():
        attribute = element.get(name)
        if attribute is not None and attribute.strip():
            found.append(attribute.strip())
        if element.tag != name:
            continue
        resource = element.get(f"{{{_RDF}}}resource")
        if resource and resource.strip():
            found.append(resource.strip())
        for node in element.iter():
            text = (node.text or "").strip()
            if text:
                found.append(text)
            node_resource = node.get(f"{{{_RDF}}}resource") if node is not element else None
            if node_resource and node_resource.strip():
                found.append(node_resource.strip())
    return found


def _term(value: str) -> str:
    text = value.strip()
    if text.startswith(DMI_VOCABULARY):
        text = text[len(DMI_VOCABULARY) :]
    return text.upper()


def read_iptc_data_mining(xmp: str | bytes, *, source: str | None = None) -> list[SignalReading]:
    """Readings from the XMP packet ``xmp`` (see the module table). Never raises."""
    try:
        root = parse_xml(_packet(xmp))
    except SignalParseError as error:
        return [unknown(SIGNAL, source, None, str(error))]
    values = list(dict.fromkeys(_values(root, PLUS_NAMESPACE, "DataMining")))
    constraints = _values(root, PLUS_NAMESPACE, "OtherConstraints")
    linked = _values(root, _IPTC_EXT, "LinkedRightsExpr")
    other = f"plus:OtherConstraints: {' | '.join(dict.fromkeys(constraints))}" if constraints else None
    if not values:
        detail = "; ".join(filter(None, ["no plus:DataMining", other]))
        return [SignalReading(SIGNAL, source, None, "unset", ALL_PURPOSES, clip(detail))]
    readings: list[SignalReading] = []
    for value in values:
        term = _term(value)
        outcomes = _TABLE.get(term)
        if outcomes is None:
            readings.append(unknown(SIGNAL, source, value, f"{value!r} is not a PLUS data-mining term"))
            continue
        see = _SEE_WHAT.get(term)
        detail = "; ".join(filter(None, [term, see, other]))
        policy_url = linked[0] if linked and term == "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR" else None
        readings.extend(
            SignalReading(SIGNAL, source, clip(value), status, purposes, clip(detail), policy_url)
            for status, purposes in outcomes
        )
    return readings
