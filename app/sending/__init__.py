"""Campaign sending: render, relay, the worker that works the ledger, retries."""
