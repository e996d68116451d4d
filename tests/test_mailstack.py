"""Smoke tests of the real mail stack: Postfix relay + Dovecot mailboxes on loopback."""

from __future__ import annotations

import email
import email.policy
import poplib
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage, Message
from email.utils import make_msgid

import pytest
from imap_tools import AND, MailBox, MailboxLoginError, MailBoxStartTls

from tests.support.mailstack import MailStack, smtp_sink

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"


def _ctx(stack: MailStack) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=stack.cafile)


def _message(to: str, sender: str = NOREPLY, subject: str = "smoke") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content("hello from the mail stack smoke test\n")
    return msg


def _submit(stack: MailStack, msg: EmailMessage, rcpts: list[str] | None = None) -> None:
    """Submission port, STARTTLS, AUTH as noreply."""
    with smtplib.SMTP(stack.host, stack.submission_port, timeout=10) as smtp:
        smtp.starttls(context=_ctx(stack))
        smtp.login(NOREPLY, stack.users[NOREPLY])
        smtp.send_message(msg, from_addr=NOREPLY, to_addrs=rcpts or [msg["To"]])


def _parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def _assert_dsn(raw: bytes, recipient: str, status: str, original_id: str) -> None:
    msg = _parse(raw)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert isinstance(parts, list)
    delivery_status = next(p for p in parts if p.get_content_type() == "message/delivery-status")
    # message/delivery-status payload: [per-message fields, per-recipient fields...]
    recipients = delivery_status.get_payload()[1:]
    rcpt = next(r for r in recipients if recipient in r["Final-Recipient"])
    assert rcpt["Action"] == "failed"
    assert rcpt["Status"] == status
    # The original's headers come back (message/rfc822 or text/rfc822-headers).
    returned = next(p for p in parts if p.get_content_type() in ("message/rfc822", "text/rfc822-headers"))
    assert original_id in returned.as_string()


def test_unknown_local_user_dsn_read_over_imap_starttls(mail: MailStack) -> None:
    msg = _message("nobody-here@example.test")
    _submit(mail, msg)
    with MailBoxStartTls(mail.host, mail.imap_port, ssl_context=_ctx(mail), timeout=10).login(
        NOREPLY, mail.users[NOREPLY]
    ) as box:
        deadline = time.monotonic() + 10
        while True:
            # Dovecot reports mail that arrived during a session on NOOP, not on a bare
            # SEARCH (that one lags ~5 s): long-lived IMAP pollers must NOOP (or IDLE).
            box.client.noop()
            if found := list(box.fetch(AND(all=True), mark_seen=False)):
                break
            assert time.monotonic() < deadline, mail.log_text()[-3000:]
            time.sleep(0.05)
    assert len(found) == 1
    assert found[0].from_.lower() == "mailer-daemon@example.test"
    _assert_dsn(found[0].obj.as_bytes(), "nobody-here@example.test", "5.1.1", msg["Message-ID"])


def test_unknown_local_user_dsn_read_over_imaps(mail: MailStack) -> None:
    msg = _message("nobody-here@example.test")
    _submit(mail, msg)
    mail.wait_for_messages(NOREPLY, 1)
    with MailBox(mail.host, mail.imaps_port, ssl_context=_ctx(mail), timeout=10).login(
        NOREPLY, mail.users[NOREPLY]
    ) as box:
        found = list(box.fetch(mark_seen=False))
    assert len(found) == 1
    _assert_dsn(found[0].obj.as_bytes(), "nobody-here@example.test", "5.1.1", msg["Message-ID"])


def test_unknown_local_user_dsn_read_over_pop3_stls(mail: MailStack) -> None:
    msg = _message("nobody-here@example.test")
    _submit(mail, msg)
    mail.wait_for_messages(NOREPLY, 1)
    pop = poplib.POP3(mail.host, mail.pop3_port, timeout=10)
    try:
        pop.stls(context=_ctx(mail))
        pop.user(NOREPLY)
        pop.pass_(mail.users[NOREPLY])
        count, _size = pop.stat()
        assert count == 1
        _resp, lines, _octets = pop.retr(1)
    finally:
        pop.quit()
    _assert_dsn(b"\r\n".join(lines), "nobody-here@example.test", "5.1.1", msg["Message-ID"])


def test_pop3s_login(mail: MailStack) -> None:
    pop = poplib.POP3_SSL(mail.host, mail.pop3s_port, context=_ctx(mail), timeout=10)
    try:
        pop.user(NOREPLY)
        pop.pass_(mail.users[NOREPLY])
        assert pop.stat()[0] == 0
    finally:
        pop.quit()


def test_outside_domain_bounces_with_5_4_4(mail: MailStack) -> None:
    msg = _message("someone@outside.test")
    _submit(mail, msg)
    (dsn,) = mail.wait_for_messages(NOREPLY, 1)
    _assert_dsn(dsn, "someone@outside.test", "5.4.4", msg["Message-ID"])


def test_local_recipient_receives(mail: MailStack) -> None:
    msg = _message("alice@example.test", subject="for alice")
    _submit(mail, msg)
    (raw,) = mail.wait_for_messages("alice@example.test", 1)
    got = _parse(raw)
    assert got["Subject"] == "for alice"
    assert got["Message-ID"] == msg["Message-ID"]
    mail.wait_queue_empty()
    assert mail.messages(NOREPLY) == []  # no bounce


def test_verp_extension_delivered_to_noreply(mail: MailStack) -> None:
    msg = _message("noreply+tok123@example.test")
    _submit(mail, msg)
    (raw,) = mail.wait_for_messages("noreply@example.test", 1)
    got = _parse(raw)
    assert got["Delivered-To"] == "noreply+tok123@example.test"
    assert got["X-Original-To"] == "noreply+tok123@example.test"
    assert mail.maildir("noreply+tok123@example.test") == mail.maildir(NOREPLY)


def test_bounce_to_verp_sender_lands_in_noreply(mail: MailStack) -> None:
    # The real use: envelope sender noreply+TOKEN@, DSN comes back to it.
    verp = "noreply+b.42.abc@example.test"
    msg = _message("nobody-here@example.test")
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        smtp.starttls(context=_ctx(mail))
        smtp.login(NOREPLY, mail.users[NOREPLY])
        smtp.send_message(msg, from_addr=verp, to_addrs=["nobody-here@example.test"])
    (dsn,) = mail.wait_for_messages(NOREPLY, 1)
    assert _parse(dsn)["Delivered-To"] == verp
    _assert_dsn(dsn, "nobody-here@example.test", "5.1.1", msg["Message-ID"])


def test_implicit_tls_submissions(mail: MailStack) -> None:
    msg = _message("bob@example.test")
    with smtplib.SMTP_SSL(mail.host, mail.submissions_port, context=_ctx(mail), timeout=10) as smtp:
        smtp.login(NOREPLY, mail.users[NOREPLY])
        smtp.send_message(msg)
    (raw,) = mail.wait_for_messages("bob@example.test", 1)
    assert _parse(raw)["Message-ID"] == msg["Message-ID"]


def test_relay_without_auth_is_refused(mail: MailStack) -> None:
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        smtp.starttls(context=_ctx(mail))
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            smtp.send_message(_message("x@outside.test"))
    code, text = exc.value.recipients["x@outside.test"]
    assert code == 554
    assert b"5.7.1" in text and b"Relay access denied" in text


def test_mail_before_starttls_is_refused(mail: MailStack) -> None:
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        code, text = smtp.mail(NOREPLY)
    assert code == 530
    assert b"STARTTLS" in text


def test_wrong_password_is_535_and_does_not_slow_later_logins(mail: MailStack) -> None:
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        smtp.starttls(context=_ctx(mail))
        with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
            smtp.login(NOREPLY, "wrong-password")
    assert exc.value.smtp_code == 535
    started = time.monotonic()
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        smtp.starttls(context=_ctx(mail))
        smtp.login(NOREPLY, mail.users[NOREPLY])
    assert time.monotonic() - started < 1.8  # the anvil penalty would be >= 2 s


@pytest.mark.parametrize(
    ("user", "password"),
    [("noreply@example.test", "wrong"), ("ghost@example.test", "x"), ("alice@example.test", "noreply-secret")],
)
def test_imap_rejects_bad_credentials(mail: MailStack, user: str, password: str) -> None:
    # Guards the "nodelay" fallback passdb in the Dovecot config: it must never log anyone in.
    box = MailBoxStartTls(mail.host, mail.imap_port, ssl_context=_ctx(mail), timeout=10)
    started = time.monotonic()
    with pytest.raises(MailboxLoginError):
        box.login(user, password)
    assert time.monotonic() - started < 1.5  # no auth_failure_delay (2 s) or penalty; generous for loaded CI
    box.client.shutdown()


def test_nothing_listens_on_port_25(mail: MailStack) -> None:
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", 25), timeout=1):
        pass


def test_deliver_places_message_visible_over_imap(mail: MailStack) -> None:
    raw = b"From: human@outside.test\r\nTo: noreply@example.test\r\nSubject: Re: hi\r\n\r\nthanks!\r\n"
    mail.deliver(NOREPLY, raw)
    assert mail.messages(NOREPLY) == [raw]
    with MailBox(mail.host, mail.imaps_port, ssl_context=_ctx(mail)).login(NOREPLY, mail.users[NOREPLY]) as box:
        subjects = [m.subject for m in box.fetch()]
    assert subjects == ["Re: hi"]


def test_clear_mailboxes_is_seen_by_dovecot(mail: MailStack) -> None:
    mail.deliver(NOREPLY, b"Subject: one\r\n\r\n1\r\n")
    with MailBox(mail.host, mail.imaps_port, ssl_context=_ctx(mail)).login(NOREPLY, mail.users[NOREPLY]) as box:
        assert len(list(box.fetch())) == 1
        box.folder.create("Processed")
    mail.clear_mailboxes()
    mail.deliver(NOREPLY, b"Subject: two\r\n\r\n2\r\n")
    with MailBox(mail.host, mail.imaps_port, ssl_context=_ctx(mail)).login(NOREPLY, mail.users[NOREPLY]) as box:
        assert [m.subject for m in box.fetch()] == ["two"]
        assert [f.name for f in box.folder.list()] == ["INBOX"]


def test_dovecot_can_stop_while_postfix_delivers(mail: MailStack) -> None:
    mail.stop_dovecot()
    assert not mail.dovecot_running()
    with pytest.raises(OSError), socket.create_connection((mail.host, mail.imaps_port), timeout=1):
        pass
    # Inbound to a local user needs no AUTH, so Postfix still delivers to the Maildir.
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        smtp.starttls(context=_ctx(mail))
        smtp.send_message(_message(NOREPLY, sender="human@outside.test", subject="while down"))
    mail.wait_for_messages(NOREPLY, 1)
    mail.start_dovecot()
    with MailBox(mail.host, mail.imaps_port, ssl_context=_ctx(mail)).login(NOREPLY, mail.users[NOREPLY]) as box:
        assert [m.subject for m in box.fetch()] == ["while down"]


def test_smtp_sink(mail: MailStack) -> None:
    port = 2525 + mail.port_offset
    with smtp_sink(port) as sink, smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        for _ in range(20):
            smtp.send_message(_message("x@outside.test"))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
