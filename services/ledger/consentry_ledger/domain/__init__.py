"""The ledger's pure core: turning a batch of decisions into log entries and a signed checkpoint."""

from consentry_ledger.domain.sequencer import (
    AppendPlan,
    PositionedDecision,
    SequencedEntry,
    entry_leaf,
    sequence_batch,
)

__all__ = ["AppendPlan", "PositionedDecision", "SequencedEntry", "entry_leaf", "sequence_batch"]
