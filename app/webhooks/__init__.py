"""Webhooks out: events stored with the facts they report, then POSTed, signed, to the endpoints that asked."""
