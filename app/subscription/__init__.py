"""Subscribers as people: the consent ledger and data requests (export, erasure)."""
