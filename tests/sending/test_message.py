"""Message bytes: headers a receiver and a mail provider rely on, encodings, injection, DKIM."""

import base64
import email
import email.policy

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.sending.dkim_sign import DkimSigner
from app.sending.message import HeaderValueError, Identity, MessageFactory, Recipient, encode_body


def _build(subject: str = "Hello", name: str = "Ann Example", text: str = "hi\n", html: str = "<p>hi</p>",
           from_name: str = "Shop", email_addr: str = "ann@example.test") -> bytes:  # fmt: skip
    factory = MessageFactory(Identity(from_name, "news@example.test", "help@example.test", "example.test"), 7,
                             has_html=True, has_text=True)  # fmt: skip
    rcpt = Recipient(42, email_addr, name, "<d16-abc@example.test>", "https://mail.example.test/u/u16-x",
                     "mailto:noreply+u16-x@example.test?subject=unsubscribe")  # fmt: skip
    return factory.build(rcpt, subject, encode_body(html), encode_body(text))


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _body(msg: email.message.EmailMessage, kind: str) -> str:
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")


def test_headers_for_bulk_mail_and_one_click_unsubscribe() -> None:
    msg = _parse(_build())
    assert msg["From"] == "Shop <news@example.test>"
    assert msg["Reply-To"] == "help@example.test"
    assert msg["To"] == "Ann Example <ann@example.test>"
    assert msg["Message-ID"] == "<d16-abc@example.test>"
    assert msg["Date"]
    assert msg["Precedence"] == "bulk"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"] == (
        "<https://mail.example.test/u/u16-x>, <mailto:noreply+u16-x@example.test?subject=unsubscribe>"
    )
    assert msg["X-Bulkmail-Campaign"] == "7" and msg["X-Bulkmail-Delivery"] == "42"
    assert msg.get_content_type() == "multipart/alternative"
    assert _body(msg, "plain") == "hi\n"
    assert _body(msg, "html") == "<p>hi</p>"


def test_non_ascii_names_subject_and_bodies_are_encoded_and_survive() -> None:
    raw = _build(subject="Grüße aus Köln – 10 % Rabatt", name="Jörg Ünal", text="Schöne Grüße\n" + "x" * 200,
                 from_name="Bücher & Co")  # fmt: skip
    raw.decode("ascii")  # 7-bit on the wire: no relay needs 8BITMIME or SMTPUTF8
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = _parse(raw)
    assert msg["Subject"] == "Grüße aus Köln – 10 % Rabatt"
    assert msg["To"].addresses[0].display_name == "Jörg Ünal"
    assert msg["From"].addresses[0].display_name == "Bücher & Co"
    assert _body(msg, "plain") == "Schöne Grüße\n" + "x" * 200


@pytest.mark.parametrize("evil", ["Hi\r\nBcc: victim@example.org", "Hi\nBcc: victim@example.org", "Hi\rBcc: x@y.z"])
def test_header_injection_is_impossible(evil: str) -> None:
    msg = _parse(_build(subject=evil, name=evil, from_name=evil))
    assert msg["Bcc"] is None
    assert "\n" not in str(msg["Subject"]) and str(msg["Subject"]).startswith("Hi")
    assert len(msg.get_all("To")) == 1 and len(msg.get_all("From")) == 1


def test_an_address_with_whitespace_or_brackets_is_refused() -> None:
    with pytest.raises(HeaderValueError, match="To"):
        _build(email_addr="ann@example.test>\r\nBcc: x@y.z")


def test_dkim_signature_verifies() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    signed = DkimSigner("s1", "example.test", pem).sign(_build())
    assert signed.startswith(b"DKIM-Signature:")
    assert dkim.verify(
        signed, dnsfunc=lambda name, timeout=5: record if name == b"s1._domainkey.example.test." else None
    )
    tampered = signed.replace(b"Subject: Hello", b"Subject: Hellx")
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)


def test_plain_ascii_bodies_go_as_they_are_and_long_lines_are_encoded() -> None:
    raw = _build(text="short line\n", html="<p>" + "a" * 1500 + "</p>")
    assert b"Content-Transfer-Encoding: 7bit\r\n\r\nshort line\r\n" in raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert _body(_parse(raw), "html") == "<p>" + "a" * 1500 + "</p>"
