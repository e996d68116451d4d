"""Tag=value records (DKIM RFC 6376 §3.2, DMARC RFC 7489 §6.4): `v=DKIM1; k=rsa; p=...`."""


def parse_tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            tags.setdefault(name.strip().lower(), "".join(value.split()))
    return tags
