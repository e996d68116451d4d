"""The preflight: before launch, each way the sending setup or the message would fail receivers'
checks (SPF, DKIM, DMARC alignment, PTR/HELO, one-click unsubscribe, size, spam score), named with
what to change. One module per check, each a function of a SendingSetup (setup.py)."""
