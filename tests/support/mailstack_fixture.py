"""pytest plugin: the real Postfix + Dovecot stack (tests/support/mailstack.py).

Register with ``pytest_plugins = ["tests.support.mailstack_fixture"]``.

* ``mailstack`` (session): installed if needed, started once, stopped at the end.
* ``mail`` (function): the same stack, running, with an empty queue and empty mailboxes.

Env: ``BULKMAIL_MAILSTACK_ROOT`` / ``BULKMAIL_MAILSTACK_PORT_OFFSET`` pick the
root dir and shift all ports.  If that root is in use by another live session
(another engineer, an xdist worker) the next free ``ROOT-N`` / offset+10*N is used.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.mailstack import DEFAULT_ROOT, MailStack, ensure_packages, start_free_stack


@pytest.fixture(scope="session")
def mailstack() -> Iterator[MailStack]:
    if os.geteuid() != 0:
        pytest.skip("the Postfix + Dovecot test stack needs root")
    ensure_packages()
    stack = start_free_stack(
        os.environ.get("BULKMAIL_MAILSTACK_ROOT", str(DEFAULT_ROOT)),
        int(os.environ.get("BULKMAIL_MAILSTACK_PORT_OFFSET", "0")),
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def mail(mailstack: MailStack) -> Iterator[MailStack]:
    # A previous test may have stopped a daemon on purpose (e.g. Dovecot mid-sweep).
    if not mailstack.postfix_running():
        mailstack.start_postfix()
    if not mailstack.dovecot_running():
        mailstack.start_dovecot()
    # Let the previous test's late bounces land *before* we empty the boxes,
    # otherwise they would show up in this test.
    try:
        mailstack.wait_queue_empty(timeout=5)
    except TimeoutError:
        subprocess.run(
            ["/usr/sbin/postsuper", "-c", str(mailstack.postfix_dir), "-d", "ALL"], capture_output=True, timeout=30
        )
    mailstack.clear_mailboxes()
    if mailstack.recipient_replies:  # a test made it refuse some recipients: accept them again
        mailstack.answer_recipients({})
    yield mailstack
