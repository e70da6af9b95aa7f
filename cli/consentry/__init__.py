"""Consentry's command line (``consentry``) and Python client (:mod:`consentry.client`)."""
