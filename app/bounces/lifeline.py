"""Helper processes that must not outlive the process they work for.

A classifier worker of the sweep is forked by multiprocessing's forkserver, not by the sweeping
process, and it holds the pipes that keep the forkserver and the resource tracker alive: if the
sweeper is killed (`kill -9`), nothing tells them, and all of them live on under PID 1. Each worker
therefore watches the sweeper itself and exits the moment it ends; the helpers then see their pipes
close and exit too."""

import os
import select
import threading
import time

_POLL_SECONDS = 0.5  # only where the kernel has no pidfd (Linux < 5.3)


def exit_with(pid: int) -> None:
    """Pool initializer: end this process as soon as process PID has ended."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)  # it died before we got here
    except (AttributeError, OSError):
        threading.Thread(target=_poll, args=(pid,), name="lifeline", daemon=True).start()
        return
    threading.Thread(target=_wait, args=(fd,), name="lifeline", daemon=True).start()


def _wait(fd: int) -> None:
    select.select([fd], [], [])  # a pidfd turns readable when its process ends
    os._exit(1)


def _poll(pid: int) -> None:
    while True:
        time.sleep(_POLL_SECONDS)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass  # alive, owned by another user
