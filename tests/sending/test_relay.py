"""`bulkmail relay test`: the connection check names the actual problem."""

from pydantic import SecretStr
from typer.testing import CliRunner

from app.cli import cli
from app.sending.relay import test_connection as check_relay
from app.settings import Settings
from tests.sending.sink import Sink, SinkServer
from tests.support.network import free_port


def _settings(port: int, **kw) -> Settings:  # type: ignore[no-untyped-def]
    fields = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none", "smtp_timeout": 3,
              "bounce_address": "noreply@example.test", **kw}  # fmt: skip
    return Settings(_env_file=None, **fields)


def test_refused_port_is_named() -> None:
    check = check_relay(_settings(free_port()), "noreply@example.test", "x@example.org")
    assert not check.ok and check.kind == "connect" and "refused" in check.message


def test_tls_on_a_plain_port_is_a_tls_problem() -> None:
    with SinkServer(Sink()) as server:
        check = check_relay(_settings(server.port, smtp_security="tls"), "noreply@example.test", "x@example.org")
    assert not check.ok and check.kind == "tls" and "'tls' is for port 465" in check.message, check


def test_starttls_not_offered_is_named() -> None:
    with SinkServer(Sink()) as server:
        check = check_relay(_settings(server.port, smtp_security="starttls"), "noreply@example.test", "x@example.org")
    assert not check.ok and check.kind == "tls" and "STARTTLS" in check.message


def test_wrong_password_is_an_authentication_failure_and_the_password_is_not_shown() -> None:
    with SinkServer(Sink(), users={"noreply": "right"}) as server:
        s = _settings(server.port, smtp_username="noreply", smtp_password=SecretStr("hunter2"))
        check = check_relay(s, "noreply@example.test", "x@example.org")
        ok = check_relay(s.model_copy(update={"smtp_password": SecretStr("right")}), "noreply@example.test", "x@a.org")
    assert not check.ok and check.kind == "auth" and "535" in check.message and "hunter2" not in check.message
    assert ok.ok and "authenticated as noreply" in ok.message


def test_cli_exit_code_and_message(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "none"}.items():
        monkeypatch.setenv(f"BULKMAIL_{key}", value)
    from app.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["relay", "test"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "FAILED (connect)" in result.output and "refused" in result.output
