"""What a bad line means for its manifest: ingest is all-or-nothing per manifest.

Policy
------
If *any* line of a manifest has an error, the whole manifest is rejected and **nothing** of it
is published to ``items.v1``: no item, valid or not. The submitter gets one answer listing the
errors -- HTTP 422 with at most :data:`MAX_REPORTED_ERRORS` of them, each with its line and
field, plus the total count; the CLI exits non-zero with the same list. Only a manifest that
parsed without a single error is published, in full.

Why: a manifest is the unit a platform asks about ("may I train on this dataset?") and the
unit an auditor asks about ("prove every item of dataset Y was checked"). Publishing the good
lines of a bad manifest would record it half: the ledger would hold a dataset that the platform
never submitted as such, and a fixed re-submission would mix with the earlier half. Rejecting
the whole keeps every recorded manifest complete, and makes a re-submission after a fix the
first record, not a patch.

Consequence for adapters: items can only be published once the end of the manifest has been
parsed without errors, so an adapter either spools the upload (a temporary file, then a
second pass that publishes) or holds the items; it must not publish while parsing. The
manifest id derived from the content hash is only known at the end too.

The parser (:mod:`consentry_ingest.domain.manifest`) does not apply this policy: it reports
every line's result and leaves the verdict to :class:`ManifestErrors`.
"""

from __future__ import annotations

from typing import Final

from .manifest import LineError

__all__ = ["MAX_REPORTED_ERRORS", "ManifestErrors"]

MAX_REPORTED_ERRORS: Final = 100
"""How many errors a rejection lists; the rest are only counted."""


class ManifestErrors:
    """The errors of one manifest, for the all-or-nothing verdict, in bounded memory.

    Keeps the first ``limit`` errors (in the order added: line order when fed from one parser)
    and counts them all.
    """

    def __init__(self, limit: int = MAX_REPORTED_ERRORS) -> None:
        if limit < 0:
            raise ValueError("limit must not be negative")
        self.limit: Final = limit
        self._shown: list[LineError] = []
        self._total = 0

    def add(self, error: LineError) -> None:
        """Record one error."""
        self._total += 1
        if len(self._shown) < self.limit:
            self._shown.append(error)

    @property
    def rejected(self) -> bool:
        """Whether the manifest must be rejected: it has at least one error."""
        return self._total > 0

    @property
    def total(self) -> int:
        """How many errors were recorded."""
        return self._total

    @property
    def shown(self) -> tuple[LineError, ...]:
        """The errors to report: the first ``limit`` recorded."""
        return tuple(self._shown)

    @property
    def truncated(self) -> bool:
        """Whether more errors were recorded than are shown."""
        return self._total > len(self._shown)
