"""`bulkmail serve` as an operator runs it: the web server plus its background process, which sends
through the real relay at a lower CPU priority and never outlives the server."""

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from app.settings import Settings
from tests.conftest import make_api_key
from tests.support.mailstack import MailStack
from tests.support.polling import wait_for
from tests.support.serve import NOREPLY, relay_env, serving

pytestmark = pytest.mark.mailstack


def _children(pid: int) -> list[int]:
    # Each thread lists the children it started (the restarted one comes from a supervising thread).
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def served(
    settings: Settings, engine: Engine, mail: MailStack, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen, str]]:  # type: ignore[type-arg]
    with serving(relay_env(settings, mail, tmp_path), tmp_path, quiet=False) as (proc, base):
        yield proc, base


def test_serve_sends_from_a_lower_priority_background_process(
    served: tuple[subprocess.Popen, str],
    engine: Engine,
    mail: MailStack,  # type: ignore[type-arg]
) -> None:
    proc, base = served
    background = wait_for(lambda: _children(proc.pid), 10, "the background process")
    assert len(background) == 1
    lowered = os.getpriority(os.PRIO_PROCESS, proc.pid) + 10
    wait_for(lambda: os.getpriority(os.PRIO_PROCESS, background[0]) == lowered, 10, "the background process's nice 10")

    headers = {"Authorization": f"Bearer {make_api_key(engine)}"}
    with httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=10) as api:
        people = [{"external_id": "a", "email": "alice@example.test", "first_name": "Alice"},
                  {"external_id": "b", "email": "bob@example.test", "first_name": "Bob"}]  # fmt: skip
        list_id = api.post("/lists", json={"name": "Members"}).json()["id"]
        assert api.post("/contacts/bulk", json={"list_id": list_id, "contacts": people}).status_code == 200
        cid = api.post("/campaigns", json={"name": "Hello", "from_address": NOREPLY, "subject": "Hi {{ first_name }}",
                                           "text_template": "Hello {{ first_name }}", "list_ids": [list_id]}).json()["id"]  # fmt: skip
        assert api.post(f"/campaigns/{cid}/launch").json()["state"] == "sending"
        done = wait_for(lambda: (c := api.get(f"/campaigns/{cid}").json())["state"] == "completed" and c, 60, "sending")
    assert done["progress"]["counts"]["sent"] == 2
    [message] = mail.wait_for_messages("alice@example.test", 1, timeout=20)
    assert message_from_bytes(message)["Subject"] == "Hi Alice"


def test_background_process_stops_with_the_server(served: tuple[subprocess.Popen, str]) -> None:
    proc, _ = served
    [background] = wait_for(lambda: _children(proc.pid), 10, "the background process")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert wait_for(lambda: not _alive(background), 10, "the background process to stop")


def test_background_process_exits_when_the_server_is_killed(served: tuple[subprocess.Popen, str]) -> None:
    proc, _ = served
    [background] = wait_for(lambda: _children(proc.pid), 10, "the background process")
    proc.kill()
    proc.wait()
    assert wait_for(lambda: not _alive(background), 10, "the orphaned background process to exit")


def test_background_process_is_restarted_if_it_dies(served: tuple[subprocess.Popen, str]) -> None:
    proc, base = served
    [first] = wait_for(lambda: _children(proc.pid), 10, "the background process")
    os.kill(first, signal.SIGKILL)
    [second] = wait_for(lambda: [p for p in _children(proc.pid) if p != first], 20, "a new background process")
    assert _alive(second) and httpx.get(f"{base}/healthz", timeout=5).status_code == 200
