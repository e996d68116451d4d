"""Bounce monitoring: the mailbox, the sweep, attribution and the suppression policy."""
