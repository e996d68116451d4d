"""Optional DKIM signing (dkimpy) with the configured selector, domain and private key."""

from pathlib import Path

import dkim

from app.logs import keep_out
from app.settings import Settings

SIGNED_HEADERS = [
    b"from",
    b"reply-to",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
    b"feedback-id",
]


class DkimSigner:
    def __init__(self, selector: str, domain: str, private_key: bytes) -> None:
        self.selector, self.domain, self.key = selector.encode(), domain.encode(), private_key

    @classmethod
    def from_settings(cls, settings: Settings) -> "DkimSigner | None":
        """A signer when DKIM is configured, None when it is off; a half configuration is an error."""
        parts = (settings.dkim_selector, settings.dkim_domain, settings.dkim_private_key_file)
        if not any(parts):
            return None
        if not all(parts):
            raise ValueError(
                "DKIM needs BULKMAIL_DKIM_SELECTOR, BULKMAIL_DKIM_DOMAIN and BULKMAIL_DKIM_PRIVATE_KEY_FILE"
            )
        path = Path(settings.dkim_private_key_file or "")
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"DKIM private key file {path}: {exc.strerror}") from exc
        keep_out(key.decode("ascii", "replace"))
        return cls(settings.dkim_selector or "", settings.dkim_domain or "", key)

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front (relaxed/relaxed, rsa-sha256)."""
        sig = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=SIGNED_HEADERS,
        )
        return sig + message
