"""A real mail stack for tests: Postfix (relay) + Dovecot (mailboxes) on loopback.

Pure stdlib.  Everything lives under one root directory (default
``/tmp/bulkmail-mailstack``): configuration, queue, Maildirs, logs and a
self-signed certificate.  Nothing listens on port 25 or off 127.0.0.1, and
every non-local domain bounces locally, so no mail ever leaves the machine.

See /work/shared/MAILSTACK.md for why the configuration looks the way it does.

CLI::

    python -m tests.support.mailstack install|start|stop|status [--root DIR] [--port-offset N]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("/tmp/bulkmail-mailstack")
HOST = "127.0.0.1"
DOMAIN = "example.test"
VMAIL_UID = 5000
VMAIL_GID = 5000

POSTFIX_DAEMON_DIR = Path("/usr/lib/postfix/sbin")
# nsd and SpamAssassin serve the preflight tests (tests/support/dns_server.py, tests/support/spamd.py)
PACKAGES = ("postfix", "dovecot-imapd", "dovecot-pop3d", "nsd", "spamassassin", "spamd", "spamc")

# address -> password; known to tests, harmless (loopback-only stack).
DEFAULT_USERS: dict[str, str] = {
    f"{local}@{DOMAIN}": f"{local}-secret"
    for local in ("noreply", "postmaster", "alice", "bob", "carol", "dave", "jörg")  # jörg: SMTPUTF8 (RFC 6531)
}

DEFAULT_PORTS = {
    "submission": 2587,
    "submissions": 2465,
    "imap": 1143,
    "imaps": 1993,
    "pop3": 1110,
    "pop3s": 1995,
}

_deliver_counter = itertools.count()


class MailStackError(RuntimeError):
    pass


# --------------------------------------------------------------------------- #
# Packages
# --------------------------------------------------------------------------- #
def _packages_installed() -> bool:
    return (
        shutil.which("postfix", path="/usr/sbin:/usr/bin") is not None
        and shutil.which("dovecot", path="/usr/sbin:/usr/bin") is not None
        and (POSTFIX_DAEMON_DIR / "master").exists()
        and Path("/usr/lib/dovecot/imap").exists()
        and Path("/usr/lib/dovecot/pop3").exists()
        and Path("/usr/sbin/nsd").exists()
        and Path("/usr/sbin/spamd").exists()
    )


def ensure_packages() -> None:
    """Install postfix + dovecot (imap, pop3), nsd and spamd if missing; quick no-op otherwise."""
    if _packages_installed():
        return
    if os.geteuid() != 0:
        raise MailStackError(
            f"postfix/dovecot/nsd/spamd are not installed and we are not root: apt-get install {' '.join(PACKAGES)}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # "No configuration": we never want the system instance configured/started.
    subprocess.run(
        ["debconf-set-selections"],
        input="postfix postfix/main_mailer_type select No configuration\n",
        text=True,
        env=env,
        check=True,
    )
    cmd = ["apt-get", "install", "-y", "-q", *PACKAGES]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        # Stale/missing package lists are the usual cause: refresh once and retry.
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0 or not _packages_installed():
        raise MailStackError(f"apt-get install failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def find_smtp_sink() -> str:
    """Path of Postfix's smtp-sink (ships with the postfix package)."""
    for candidate in ("/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink"):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("smtp-sink")
    if found:
        return found
    raise MailStackError("smtp-sink not found (is postfix installed? see ensure_packages())")


@dataclass(frozen=True)
class SinkEndpoint:
    host: str
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def smtp_sink(port: int, backlog: int = 256, *extra_args: str) -> Iterator[SinkEndpoint]:
    """Run Postfix's discarding ``smtp-sink`` on 127.0.0.1:PORT for benchmarks."""
    cmd = [find_smtp_sink()]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]  # smtp-sink refuses to run as root otherwise
    cmd += [*extra_args, f"{HOST}:{port}", str(backlog)]
    if _port_open(HOST, port):
        raise MailStackError(f"port {port} already in use; cannot start smtp-sink")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while not _port_open(HOST, port):
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise MailStackError(f"smtp-sink exited with {proc.returncode}: {err}")
            if time.monotonic() > deadline:
                raise MailStackError(f"smtp-sink did not listen on {port}")
            time.sleep(0.01)
        yield SinkEndpoint(HOST, port, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()


# --------------------------------------------------------------------------- #
# Small process / socket helpers
# --------------------------------------------------------------------------- #
def _port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as dead.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count as members; ignore a group made only of zombies.
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _kill_and_wait(pid: int, timeout: float = 5.0, group: bool = False) -> None:
    """SIGTERM PID (its whole process group if GROUP and PID leads it), then SIGKILL.

    With GROUP, whatever is left of the group after 0.3 s is SIGKILLed: both
    masters sometimes linger ~1 s on SIGTERM, and Postfix children keep the
    inherited listening sockets a while after their master is gone.  Both
    daemons are built to survive a crash, so this is safe for a test stack.
    """
    try:
        is_leader = group and os.getpgid(pid) == pid
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        if is_leader:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)

    def gone() -> bool:
        return not (_group_alive(pid) if is_leader else _pid_alive(pid))

    deadline = time.monotonic() + (0.3 if is_leader else timeout)
    while not gone():
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                if is_leader:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 2
            while not gone() and time.monotonic() < deadline:
                time.sleep(0.01)
            return
        time.sleep(0.01)


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes


def _pids_listening(port: int) -> set[int]:
    """PIDs holding a listening socket on PORT (needs root to see other users)."""
    inodes = _listening_inodes(port)
    pids: set[int] = set()
    if not inodes:
        return pids
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.add(int(proc.name))
                    break
        except OSError:
            continue
    return pids


def _instance_root_of(pid: int) -> Path | None:
    """Root dir of a mailstack that owns PID (postfix master or dovecot), if any."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    config: str | None = None
    if exe.endswith("/postfix/sbin/master"):
        for item in environ:
            if item.startswith(b"MAIL_CONFIG="):
                config = item[len(b"MAIL_CONFIG=") :].decode()
    elif exe.endswith("/dovecot"):
        args = [a.decode() for a in cmdline]
        if "-c" in args and args.index("-c") + 1 < len(args):
            config = args[args.index("-c") + 1]
    if not config:
        return None
    # Our layout: ROOT/postfix (config dir) and ROOT/dovecot/dovecot.conf.
    path = Path(config)
    root = path.parent if path.name == "postfix" else path.parent.parent
    return root if (root / ".mailstack").exists() else None


def _is_orphaned_mail_process(pid: int) -> bool:
    """A postfix/dovecot child whose master died (it still holds inherited listeners)."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    if not exe.startswith(("/usr/lib/postfix/", "/usr/lib/dovecot/")):
        return False
    if ppid <= 1:
        return True
    try:
        parent_exe = os.readlink(f"/proc/{ppid}/exe")
    except OSError:
        return True
    return not (parent_exe.endswith("/postfix/sbin/master") or parent_exe.endswith("/sbin/dovecot"))


def _lock_is_held(lock_path: Path) -> bool:
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we may just have taken
    return False


# --------------------------------------------------------------------------- #
# The stack
# --------------------------------------------------------------------------- #
class MailStack:
    """Postfix + Dovecot under one root dir, loopback only.

    The instance holds an flock on ROOT/.lock while started so that a second
    test session neither reuses nor kills a stack that is in use.
    """

    host: str = HOST
    domain: str = DOMAIN

    def __init__(
        self,
        root: str | os.PathLike[str] = DEFAULT_ROOT,
        *,
        port_offset: int = 0,
        users: dict[str, str] | None = None,
        message_size_limit: int = 50 * 1024 * 1024,
        recipient_replies: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.port_offset = port_offset
        self.submission_port = DEFAULT_PORTS["submission"] + port_offset
        self.submissions_port = DEFAULT_PORTS["submissions"] + port_offset
        self.imap_port = DEFAULT_PORTS["imap"] + port_offset
        self.imaps_port = DEFAULT_PORTS["imaps"] + port_offset
        self.pop3_port = DEFAULT_PORTS["pop3"] + port_offset
        self.pop3s_port = DEFAULT_PORTS["pop3s"] + port_offset
        self.users: dict[str, str] = dict(users or DEFAULT_USERS)
        self.message_size_limit = message_size_limit
        # recipient domain or address -> the reply Postfix gives at RCPT instead of accepting it
        self.recipient_replies: dict[str, str] = dict(recipient_replies or {})

        self.postfix_dir = self.root / "postfix"
        self.queue_dir = self.root / "spool"
        self.data_dir = self.root / "postfix-data"
        self.dovecot_dir = self.root / "dovecot"
        self.dovecot_conf = self.dovecot_dir / "dovecot.conf"
        self.dovecot_run = self.dovecot_dir / "run"
        self.mail_dir = self.root / "mail"
        self.log_dir = self.root / "log"
        self.tls_dir = self.root / "tls"
        self.cafile = str(self.tls_dir / "cert.pem")
        self.keyfile = str(self.tls_dir / "key.pem")
        self.sasl_socket = self.dovecot_run / "auth-postfix"
        self._lock_fd: int | None = None

    # ---- endpoints ------------------------------------------------------
    @property
    def ports(self) -> dict[str, int]:
        return {name: port + self.port_offset for name, port in DEFAULT_PORTS.items()}

    def endpoints(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "host": self.host,
            **{f"{k}_port": v for k, v in self.ports.items()},
            "cafile": self.cafile,
            "domain": self.domain,
            "users": self.users,
        }

    # ---- lifecycle ------------------------------------------------------
    def start(self) -> MailStack:
        """(Re)write config, kill any stale instance of this root, start both daemons."""
        self._acquire_lock()
        try:
            self._kill_stale()
            self._write_config()
            self.start_dovecot()  # first: Postfix's SASL needs Dovecot's auth socket
            self.start_postfix()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.stop_postfix()
        self.stop_dovecot()
        self._release_lock()

    def __enter__(self) -> MailStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def is_running(self) -> bool:
        return self.postfix_running() and self.dovecot_running()

    # Postfix
    def _postfix_pid(self) -> int | None:
        pid = _read_pid(self.queue_dir / "pid" / "master.pid")
        return pid if pid and _pid_alive(pid) else None

    def postfix_running(self) -> bool:
        return self._postfix_pid() is not None

    def start_postfix(self) -> None:
        if self.postfix_running():
            return
        self._make_queue_dirs()
        # Queue dirs are ours already: skip postfix-script's slow integrity checks.
        (self.queue_dir / "quick-start").touch()
        result = subprocess.run(
            ["/usr/sbin/postfix", "-c", str(self.postfix_dir), "start"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise MailStackError(
                f"postfix start failed ({result.returncode}):\n{result.stdout}{result.stderr}\n"
                + self.log_text()[-3000:]
            )
        for port in (self.submission_port, self.submissions_port):
            self._wait_port(port, "postfix")

    def stop_postfix(self) -> None:
        pid = self._postfix_pid()
        if pid is None:
            return
        # Signal the whole group (master leads it): master alone sometimes lingers 1 s.
        _kill_and_wait(pid, group=True)
        self._wait_ports_free([self.submission_port, self.submissions_port])

    def restart_postfix(self) -> None:
        self.stop_postfix()
        self.start_postfix()

    def reload_postfix(self) -> None:
        """Postfix reads its configuration and maps again; sessions open now keep the old ones."""
        subprocess.run(
            ["/usr/sbin/postfix", "-c", str(self.postfix_dir), "reload"], capture_output=True, timeout=30, check=True
        )

    def answer_recipients(self, replies: dict[str, str]) -> None:
        """Make Postfix answer RCPT for these domains or addresses with the given reply (e.g.
        ``{"slow.test": "421 4.7.0 Too many messages, slow down"}``: a receiver throttling us; a 421
        also closes the session), and accept every other one; ``{}`` accepts them all again."""
        self.recipient_replies = dict(replies)
        self._write_recipient_maps()
        self.reload_postfix()

    def add_mailboxes(self, addresses: list[str], password: str = "secret") -> None:
        """Further mailboxes, in any domain (each new domain is delivered locally too)."""
        for address in addresses:
            self.users.setdefault(address, password)
        self._make_maildirs()
        self._write_recipient_maps()
        self._write_dovecot_config()
        self.reload_postfix()

    # Dovecot
    def _dovecot_pid(self) -> int | None:
        pid = _read_pid(self.dovecot_run / "master.pid")
        return pid if pid and _pid_alive(pid) else None

    def dovecot_running(self) -> bool:
        return self._dovecot_pid() is not None

    def start_dovecot(self) -> None:
        if self.dovecot_running():
            return
        if not self.dovecot_conf.exists():
            self._write_config()
        self.dovecot_run.mkdir(parents=True, exist_ok=True)
        # A SIGKILLed master leaves master.pid behind and may linger as a zombie
        # (init here reaps late): Dovecot's kill(pid, 0) check would refuse to start.
        (self.dovecot_run / "master.pid").unlink(missing_ok=True)
        # Dovecot's log process inherits stdio: never leave it on a pipe.
        with open(self.log_dir / "dovecot.stdio.log", "ab") as out:
            result = subprocess.run(
                ["/usr/sbin/dovecot", "-c", str(self.dovecot_conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=60,
            )
        if result.returncode != 0:
            raise MailStackError(f"dovecot failed to start ({result.returncode}):\n" + self.log_text()[-3000:])
        for port in (self.imap_port, self.imaps_port, self.pop3_port, self.pop3s_port):
            self._wait_port(port, "dovecot")
        deadline = time.monotonic() + 5
        while not self.sasl_socket.exists():
            if time.monotonic() > deadline:
                raise MailStackError(f"dovecot auth socket {self.sasl_socket} did not appear")
            time.sleep(0.01)

    def stop_dovecot(self) -> None:
        pid = self._dovecot_pid()
        if pid is None:
            return
        # Signalling only the master costs 1 s (it waits for its children); the
        # whole group (master is a session leader) goes down in ~20 ms.
        _kill_and_wait(pid, group=True)
        # The master is gone; make sure no orphaned login/imap/auth process keeps a port.
        self._wait_ports_free([self.imap_port, self.imaps_port, self.pop3_port, self.pop3s_port])

    # ---- stale-instance handling ---------------------------------------
    def _acquire_lock(self) -> None:
        if self._lock_fd is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # postfix and uid 5000 must traverse it
        (self.root / ".mailstack").touch()
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            holder = (self.root / ".lock").read_text().strip() or "?"
            raise MailStackBusy(f"mail stack at {self.root} is in use by pid {holder}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _kill_stale(self) -> None:
        """Kill leftovers of an earlier run: by pid file, then whoever holds our ports."""
        for pid in (self._postfix_pid(), self._dovecot_pid()):
            if pid:
                _kill_and_wait(pid)
        for port in self.ports.values():
            if not _listening_inodes(port):
                continue
            for pid in _pids_listening(port):
                owner = _instance_root_of(pid)
                if owner is None and _is_orphaned_mail_process(pid):
                    _kill_and_wait(pid)
                    continue
                if owner is None:
                    raise MailStackPortBusy(f"port {port} is used by pid {pid}, not a mail stack")
                if owner.resolve() != self.root.resolve() and _lock_is_held(owner / ".lock"):
                    raise MailStackPortBusy(f"port {port} is used by a live mail stack at {owner}")
                _kill_and_wait(pid)
        self._wait_ports_free(list(self.ports.values()))

    def _wait_port(self, port: int, what: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not _port_open(self.host, port):
            if time.monotonic() > deadline:
                raise MailStackError(f"{what} is not listening on {port}\n" + self.log_text()[-3000:])
            time.sleep(0.01)

    def _wait_ports_free(self, ports: list[int], timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while any(_listening_inodes(p) for p in ports):
            if time.monotonic() > deadline:
                busy = [p for p in ports if _listening_inodes(p)]
                raise MailStackPortBusy(f"ports still in use: {busy}")
            time.sleep(0.01)

    # ---- configuration --------------------------------------------------
    def _write_config(self) -> None:
        for d in (
            self.postfix_dir,
            self.queue_dir,
            self.dovecot_dir,
            self.dovecot_run,
            self.dovecot_dir / "state",
            self.log_dir,
            self.tls_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)
        self._make_cert()
        self._make_maildirs()
        self._write_postfix_config()
        self._write_dovecot_config()

    def _make_cert(self) -> None:
        cert, key = Path(self.cafile), Path(self.keyfile)
        if cert.exists() and key.exists():
            return
        # CA:TRUE so the self-signed cert can be its own trust anchor (cafile=...).
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "3650",
                "-subj",
                "/CN=localhost",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
            ],
            check=True,
            capture_output=True,
        )
        os.chmod(key, 0o600)
        os.chmod(cert, 0o644)

    def _make_maildirs(self) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        os.chown(self.mail_dir, VMAIL_UID, VMAIL_GID)
        for address in self.users:
            for sub in ("", "new", "cur", "tmp"):
                self._mkdir_vmail(self.maildir(address) / sub)

    def _mkdir_vmail(self, path: Path) -> None:
        if not path.exists():
            parent = path.parent
            if parent != self.mail_dir and not parent.exists():
                self._mkdir_vmail(parent)
            path.mkdir(mode=0o700)
            os.chown(path, VMAIL_UID, VMAIL_GID)

    def _make_queue_dirs(self) -> None:
        postfix_uid = pwd.getpwnam("postfix").pw_uid
        postdrop_gid = grp.getgrnam("postdrop").gr_gid
        for d in (self.queue_dir, self.queue_dir / "pid"):
            d.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.data_dir, postfix_uid, -1)
        # Mirrors $meta_directory/postfix-files, which "postfix start" would apply slowly.
        for name in (
            "active",
            "bounce",
            "corrupt",
            "defer",
            "deferred",
            "flush",
            "hold",
            "incoming",
            "private",
            "saved",
            "trace",
        ):
            d = self.queue_dir / name
            d.mkdir(mode=0o700, exist_ok=True)
            os.chown(d, postfix_uid, -1)
        for name, mode in (("maildrop", 0o730), ("public", 0o710)):
            d = self.queue_dir / name
            d.mkdir(exist_ok=True)
            os.chown(d, postfix_uid, postdrop_gid)
            os.chmod(d, mode)

    def _write_recipient_maps(self) -> None:
        """The mailboxes, their domains and the RCPT replies: texthash maps, read at (re)load."""
        vmailbox = self.postfix_dir / "vmailbox"
        vmailbox.write_text("".join(f"{addr} {self._maildir_rel(addr)}/\n" for addr in sorted(self.users)))
        domains = {self.domain} | {a.rpartition("@")[2].lower() for a in self.users}
        (self.postfix_dir / "vdomains").write_text("".join(f"{d} local\n" for d in sorted(domains)))
        access = "".join(f"{key} {reply}\n" for key, reply in sorted(self.recipient_replies.items()))
        (self.postfix_dir / "recipient_access").write_text(access)
        for name in ("vmailbox", "vdomains", "recipient_access"):
            self._backdate(self.postfix_dir / name)

    def _write_postfix_config(self) -> None:
        self._write_recipient_maps()
        vmailbox = self.postfix_dir / "vmailbox"
        log = self.log_dir / "postfix.log"
        main = f"""\
# Generated by tests/support/mailstack.py -- do not edit.
compatibility_level = 3.6
# Install paths: without them "postfix start" runs ~140 postconf calls (+2.5 s).
command_directory = /usr/sbin
daemon_directory = {POSTFIX_DAEMON_DIR}
data_directory = {self.data_dir}
queue_directory = {self.queue_dir}
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
sendmail_path = /usr/sbin/sendmail
newaliases_path = /usr/bin/newaliases
mailq_path = /usr/bin/mailq
html_directory = no
manpage_directory = /usr/share/man
sample_directory = /etc/postfix
readme_directory = no

# No syslog here: log to a file through postlogd.
maillog_file = {log}
maillog_file_prefixes = {self.log_dir}

# Loopback only; nothing on port 25 (master.cf has only the submission ports).
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.{self.domain}
mydomain = {self.domain}
myorigin = {self.domain}
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
# Non-ASCII local parts (jörg@) arrive with SMTPUTF8, as on a current Postfix's default.
smtputf8_enable = yes

# The local domain: virtual(8) into Maildirs owned by uid/gid {VMAIL_UID}.
virtual_mailbox_domains = texthash:{self.postfix_dir / "vdomains"}
virtual_mailbox_base = {self.mail_dir}
virtual_mailbox_maps = texthash:{vmailbox}
virtual_uid_maps = static:{VMAIL_UID}
virtual_gid_maps = static:{VMAIL_GID}
virtual_mailbox_limit = 0
# VERP: noreply+TOKEN@ is delivered to noreply@.
recipient_delimiter = +

# Everything else bounces locally with a real DSN; nothing leaves the machine.
default_transport = error:5.4.4 Host or domain name not found (no outbound)
relay_transport = error:5.4.4 Host or domain name not found (no outbound)
relay_domains =

smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
# A receiver's answers to chosen recipients (answer_recipients): throttling, refusals.
smtpd_recipient_restrictions = check_recipient_access texthash:{self.postfix_dir / "recipient_access"}
# Unknown local users bounce (DSN) instead of a synchronous 550 at RCPT.
smtpd_reject_unlisted_recipient = no
smtpd_sasl_type = dovecot
smtpd_sasl_path = {self.sasl_socket}
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_tls_cert_file = {self.cafile}
smtpd_tls_key_file = {self.keyfile}
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_loglevel = 0

# Batches: no throttling, no tarpitting, fast failures.
message_size_limit = {self.message_size_limit}
in_flow_delay = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_connection_count_limit = 0
smtpd_recipient_limit = 10000
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 100000
default_process_limit = 100
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 10s
delay_warning_time = 0
"""
        submission_common = " -o smtpd_sasl_auth_enable=yes\n -o smtpd_reject_unlisted_recipient=no\n"
        services = [
            ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
            ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
            ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
            ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
            ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
            ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
            ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
            ("error", "unix", "-", "-", "n", "-", "-", "error"),
            ("retry", "unix", "-", "-", "n", "-", "-", "error"),
            ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
            ("local", "unix", "-", "n", "n", "-", "-", "local"),
            ("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
            ("lmtp", "unix", "-", "-", "n", "-", "-", "lmtp"),
            ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
            ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
            ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
        ]
        master = "# Generated by tests/support/mailstack.py. chroot = n everywhere.\n"
        master += (
            f"{self.host}:{self.submission_port} inet n - n - - smtpd\n"
            " -o syslog_name=postfix/submission\n"
            " -o smtpd_tls_security_level=encrypt\n"
            " -o smtpd_tls_auth_only=yes\n"
            + submission_common
            + f"{self.host}:{self.submissions_port} inet n - n - - smtpd\n"
            " -o syslog_name=postfix/submissions\n"
            " -o smtpd_tls_wrappermode=yes\n"
            " -o smtpd_tls_security_level=encrypt\n" + submission_common
        )
        master += "".join(" ".join(s) + "\n" for s in services)
        self._write_backdated(self.postfix_dir / "main.cf", main)
        self._write_backdated(self.postfix_dir / "master.cf", master)

    def _write_dovecot_config(self) -> None:
        users_file = self.dovecot_dir / "users"
        users_file.write_text("".join(f"{a}:{{PLAIN}}{p}::::::\n" for a, p in sorted(self.users.items())))
        # Read by Dovecot's auth process, which runs as user dovecot.
        os.chown(users_file, 0, grp.getgrnam("dovecot").gr_gid)
        os.chmod(users_file, 0o640)
        log = self.log_dir / "dovecot.log"
        conf = f"""\
# Generated by tests/support/mailstack.py -- do not edit.
instance_name = bulkmail-mailstack-{self.port_offset}
base_dir = {self.dovecot_run}
state_dir = {self.dovecot_dir / "state"}
protocols = imap pop3
listen = {self.host}
log_path = {log}
info_log_path = {log}
ssl = yes
ssl_cert = <{self.cafile}
ssl_key = <{self.keyfile}
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
# Tests may log in without TLS on the plain ports (MailBoxUnencrypted).
disable_plaintext_auth = no
auth_mechanisms = plain login
# No 2 s failure delay and no per-IP penalty (it would slow every later login).
auth_failure_delay = 0
mail_location = maildir:{self.mail_dir}/%d/%n
first_valid_uid = {VMAIL_UID}
last_valid_uid = {VMAIL_UID}
mail_max_userip_connections = 1000
namespace inbox {{
  inbox = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users_file}
}}
# Reached only when the login above failed: adds "nodelay" and still fails.
# Dovecot 2.3 otherwise answers a failed login on its next 0.5 s timer tick even
# with auth_failure_delay = 0 (~1 s per smtplib login(), which tries PLAIN then LOGIN).
passdb {{
  driver = static
  args = nopassword=y nodelay=y
  result_success = continue-fail
}}
userdb {{
  driver = static
  args = uid={VMAIL_UID} gid={VMAIL_GID} home={self.mail_dir}/%d/%n
}}
protocol pop3 {{
  pop3_uidl_format = %08Xu%08Xv
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {self.host}
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = {self.host}
    port = {self.pop3s_port}
    ssl = yes
  }}
}}
service auth {{
  # Postfix smtpd (user postfix) authenticates SMTP AUTH through this socket.
  unix_listener auth-postfix {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
        self._write_backdated(self.dovecot_conf, conf)

    @staticmethod
    def _backdate(path: Path) -> None:
        # Postfix sleeps until main.cf is ~2 s old; pretend it is older.
        old = time.time() - 60
        os.utime(path, (old, old))

    def _write_backdated(self, path: Path, text: str) -> None:
        path.write_text(text)
        self._backdate(path)

    # ---- mailboxes ------------------------------------------------------
    def _maildir_rel(self, address: str) -> str:
        local, _, domain = address.lower().partition("@")
        local = local.split("+", 1)[0]  # VERP extension -> base mailbox
        return f"{domain or self.domain}/{local}"

    def maildir(self, address: str) -> Path:
        """INBOX Maildir of ADDRESS (``user+ext@`` maps to ``user@``)."""
        return self.mail_dir / self._maildir_rel(address)

    def _message_files(self, address: str) -> list[Path]:
        base = self.maildir(address)
        files: list[tuple[int, str, Path]] = []
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(base / sub))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    mtime = entry.stat().st_mtime_ns
                except FileNotFoundError:  # Dovecot moved it new -> cur meanwhile
                    continue
                files.append((mtime, entry.name.split(":", 1)[0], Path(entry.path)))
        files.sort(key=lambda t: (t[0], t[1]))
        return [p for _, _, p in files]

    def messages(self, address: str) -> list[bytes]:
        """Raw messages in ADDRESS's INBOX (new + cur), oldest first."""
        for _ in range(5):
            out: list[bytes] = []
            try:
                for path in self._message_files(address):
                    out.append(path.read_bytes())
                return out
            except FileNotFoundError:
                # Renamed by Dovecot (new -> cur or flag change) between listing and read.
                continue
        return out

    def wait_for_messages(self, address: str, count: int = 1, timeout: float = 10) -> list[bytes]:
        """Poll until ADDRESS's INBOX holds at least COUNT messages; return them."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(address)
            if len(msgs) >= count:
                return msgs
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{address}: {len(msgs)} of {count} messages after {timeout}s\n" + self.log_text()[-4000:]
                )
            time.sleep(0.05)

    def clear_mailboxes(self) -> None:
        """Empty every mailbox (INBOX + any folders) of every user.

        Message files are removed and sub-folders dropped; Dovecot's index and
        uidlist files stay, so UIDVALIDITY is kept and Dovecot just sees
        messages expunged externally (which Maildir allows) on its next sync.
        """
        for address in self.users:
            base = self.maildir(address)
            if not base.exists():
                continue
            for entry in base.iterdir():
                if entry.is_dir() and entry.name.startswith("."):
                    shutil.rmtree(entry, ignore_errors=True)  # Maildir++ folder
            for sub in ("new", "cur", "tmp"):
                d = base / sub
                if not d.exists():
                    continue
                for f in d.iterdir():
                    with contextlib.suppress(FileNotFoundError):
                        f.unlink()
        self._make_maildirs()

    def deliver(self, address: str, raw: bytes) -> Path:
        """Drop RAW into ADDRESS's INBOX as a new Maildir message (bypassing Postfix)."""
        base = self.maildir(address)
        for sub in ("new", "cur", "tmp"):
            self._mkdir_vmail(base / sub)
        now = time.time()
        name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{next(_deliver_counter)}.mailstack,S={len(raw)}"
        tmp = base / "tmp" / name
        # Maildir protocol: write in tmp/, then rename atomically into new/.
        with open(tmp, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chown(tmp, VMAIL_UID, VMAIL_GID)
        os.chmod(tmp, 0o600)
        final = base / "new" / name
        os.rename(tmp, final)
        return final

    # ---- queue ----------------------------------------------------------
    def queue_files(self) -> list[Path]:
        """Queue files still in Postfix's queue (maildrop/incoming/active/deferred/hold)."""
        found: list[Path] = []
        for name in ("maildrop", "incoming", "active", "deferred", "hold"):
            for dirpath, _dirs, files in os.walk(self.queue_dir / name):
                found.extend(Path(dirpath) / f for f in files)
        return found

    def queue_empty(self) -> bool:
        # Walking the queue dirs is what "postqueue -p" reports, without a fork.
        return not self.queue_files()

    def wait_queue_empty(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not self.queue_empty():
            if time.monotonic() > deadline:
                raise TimeoutError(f"postfix queue not empty after {timeout}s:\n{self.postqueue()}")
            time.sleep(0.05)

    def postqueue(self) -> str:
        """``postqueue -p`` output (for debugging)."""
        result = subprocess.run(
            ["/usr/sbin/postqueue", "-c", str(self.postfix_dir), "-p"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout + result.stderr

    def flush_queue(self) -> None:
        """Ask Postfix to retry deferred mail now (e.g. after Dovecot came back)."""
        subprocess.run(["/usr/sbin/postqueue", "-c", str(self.postfix_dir), "-f"], capture_output=True, timeout=30)

    # ---- debugging ------------------------------------------------------
    def log_text(self) -> str:
        parts = []
        for name in ("postfix.log", "dovecot.log", "dovecot.stdio.log"):
            path = self.log_dir / name
            with contextlib.suppress(OSError):
                parts.append(f"==> {path} <==\n" + path.read_text(errors="replace"))
        return "\n".join(parts)


class MailStackBusy(MailStackError):
    """The root dir is locked by another live process (another test session)."""


class MailStackPortBusy(MailStackError):
    """A port we need is held by something we must not kill."""


def start_free_stack(
    root: str | os.PathLike[str] = DEFAULT_ROOT, port_offset: int = 0, attempts: int = 10
) -> MailStack:
    """Start a stack, moving to ``ROOT-N`` / port offset +N*10 while one is in use.

    Lets concurrent test sessions (other engineers, pytest-xdist workers) each
    get their own stack instead of killing each other's.
    """
    last: Exception | None = None
    for i in range(attempts):
        path = Path(root) if i == 0 else Path(f"{root}-{i}")
        stack = MailStack(path, port_offset=port_offset + 10 * i)
        try:
            return stack.start()
        except (MailStackBusy, MailStackPortBusy) as exc:
            last = exc
    raise MailStackError(f"no free mail stack slot after {attempts} attempts: {last}")


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.mailstack")
    parser.add_argument("command", choices=["install", "start", "stop", "status"])
    parser.add_argument("--root", default=os.environ.get("BULKMAIL_MAILSTACK_ROOT", str(DEFAULT_ROOT)))
    parser.add_argument("--port-offset", type=int, default=int(os.environ.get("BULKMAIL_MAILSTACK_PORT_OFFSET", "0")))
    args = parser.parse_args(argv)
    if args.command == "install":
        ensure_packages()
        print("postfix + dovecot + nsd + spamassassin installed")
        return 0
    stack = MailStack(args.root, port_offset=args.port_offset)
    if args.command == "start":
        ensure_packages()
        t0 = time.monotonic()
        stack.start()
        stack._release_lock()  # the daemons outlive this process; don't pretend to own them
        print(f"started in {time.monotonic() - t0:.2f}s")
    elif args.command == "stop":
        stack.stop_postfix()
        stack.stop_dovecot()
        print("stopped")
        return 0
    running = {"postfix": stack.postfix_running(), "dovecot": stack.dovecot_running()}
    print(f"running: {running}")
    for key, value in stack.endpoints().items():
        print(f"{key}: {value}")
    return 0 if all(running.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
