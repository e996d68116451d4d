"""TLS for our clients (the SMTP relay and the bounce mailbox): verified by default, with an extra CA."""

import ssl


def client_context(cafile: str | None, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile)
    if not verify:  # an operator's explicit choice for a self-signed server
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
