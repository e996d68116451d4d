"""Reading a VERP envelope sender back, as a receiving test does: the sweep itself gets the token from
bounce_parsers, so the service has no use for this."""


def token_from_address(address: str) -> str | None:
    """The +TOKEN part of a local part, if any."""
    local = address.strip().strip("<>").rpartition("@")[0]
    if "+" not in local:
        return None
    return local.split("+", 1)[1] or None
