"""Consentry's common library.

Everything the three services and the CLI share: the versioned message contracts
(:mod:`consentry_shared.contracts`), topic names, settings, telemetry, Kafka and database
plumbing, and the transparency-log primitives (:mod:`consentry_shared.tlog`) that auditors
use to verify the ledger offline.

This package is a library: it has no entry points and never imports a service.
"""
