"""Automations: a trigger and ordered steps that each contact goes through once (welcome series, drips,
resending to non-openers). Their messages are ledger rows (see app.models.automations)."""
