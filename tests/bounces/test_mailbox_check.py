"""`bulkmail mailbox test` against the real Dovecot: success over each protocol and security, and a
message that names the problem for each way it can go wrong."""

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from app.bounces.mailbox import MailboxError, check_mailbox
from app.cli import cli
from app.settings import Settings, get_settings
from tests.bounces.support import NOREPLY, mailbox_settings
from tests.support.mailstack import MailStack
from tests.support.network import free_port

pytestmark = pytest.mark.mailstack


def _base(mail: MailStack) -> Settings:
    return mailbox_settings(Settings(_env_file=None), mail)


@pytest.mark.parametrize(
    ("protocol", "security", "port"),
    [
        ("imap", "starttls", "imap_port"),
        ("imap", "tls", "imaps_port"),
        ("pop3", "starttls", "pop3_port"),
        ("pop3", "tls", "pop3s_port"),
        ("imap", "none", "imap_port"),
    ],
)
def test_connection_ok(mail: MailStack, protocol: str, security: str, port: str) -> None:
    settings = _base(mail).model_copy(
        update={"mailbox_protocol": protocol, "mailbox_security": security, "mailbox_port": getattr(mail, port)}
    )
    mail.deliver(NOREPLY, b"Subject: hello\r\n\r\nhi\r\n")
    assert check_mailbox(settings).endswith("login ok, 1 message(s)")


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        ({"mailbox_port": "free"}, "connection refused"),
        ({"mailbox_security": "tls"}, "TLS handshake failed"),  # TLS spoken to the plain STARTTLS port
        ({"mailbox_cafile": None}, "TLS certificate not trusted"),
        ({"mailbox_password": SecretStr("wrong")}, f"login failed for user '{NOREPLY}'"),
        ({"mailbox_folder": "Bounces"}, "no such folder 'Bounces'"),
        ({"mailbox_protocol": "pop3", "mailbox_port": "pop3", "mailbox_password": SecretStr("wrong")}, "login failed"),
        ({"mailbox_host": None}, "mailbox not configured: set BULKMAIL_MAILBOX_HOST"),
    ],
)
def test_connection_problems_are_named(mail: MailStack, update: dict[str, object], problem: str) -> None:
    if update.get("mailbox_port") == "free":
        update = {**update, "mailbox_port": free_port()}
    elif update.get("mailbox_port") == "pop3":
        update = {**update, "mailbox_port": mail.pop3_port}
    with pytest.raises(MailboxError) as err:
        check_mailbox(_base(mail).model_copy(update=update))
    assert problem in str(err.value)
    assert mail.users[NOREPLY] not in str(err.value)


def test_cli_mailbox_test(mail: MailStack, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "HOST": mail.host,
        "PORT": str(mail.imap_port),
        "SECURITY": "starttls",
        "USER": NOREPLY,
        "PASSWORD": mail.users[NOREPLY],
        "CAFILE": mail.cafile,
    }.items():
        monkeypatch.setenv(f"BULKMAIL_MAILBOX_{name}", value)
    get_settings.cache_clear()
    ok = CliRunner().invoke(cli, ["mailbox", "test"])
    assert ok.exit_code == 0 and "login ok" in ok.output
    monkeypatch.setenv("BULKMAIL_MAILBOX_PASSWORD", "wrong")
    get_settings.cache_clear()
    bad = CliRunner().invoke(cli, ["mailbox", "test"])
    get_settings.cache_clear()
    assert bad.exit_code == 1 and "login failed" in bad.output
