"""The project's container image, built and run for tests by a real Docker daemon on this machine.

A daemon that answers is used as it is; otherwise, as root, one of our own is started (Debian's docker.io,
its state under /var/lib/bulkmail-test-docker so layers are reused by the next run, a socket of its own, no
bridge network: containers share the host's network and bulkmail binds only to loopback). The Dockerfile's
base, `debian:bookworm-slim`, is pulled when a registry answers and otherwise made here from Debian's packages
with debootstrap (minbase, as the slim image is). When this machine's pip trusts a certificate bundle of its
own (PIP_CERT, e.g. an intercepting proxy's authority), the base made here carries it, so the image's
`pip install` reaches PyPI the way the host's does.

CLI::

    python -m tests.support.container_image install   # Debian's docker.io and debootstrap, when missing
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BASE = "debian:bookworm-slim"
PACKAGES = ("docker.io", "debootstrap")
STATE = Path("/var/lib/bulkmail-test-docker")
RUN = Path("/run/bulkmail-test-docker")
HOST_CA_IN_IMAGE = "/etc/bulkmail-build/ca-certificates.crt"


class ContainerError(RuntimeError):
    pass


def install() -> None:
    """Install the Docker daemon and debootstrap from Debian when missing (root only)."""
    if shutil.which("dockerd") and shutil.which("debootstrap"):
        return
    if os.geteuid() != 0:
        raise ContainerError(
            f"dockerd/debootstrap are missing and we are not root: apt-get install {' '.join(PACKAGES)}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(cmd, env=env, capture_output=True, check=True)


class Docker:
    """The `docker` command against one daemon."""

    def __init__(self, host: str | None) -> None:
        self.env = dict(os.environ, DOCKER_BUILDKIT="0")  # the classic builder: every daemon version has it
        if host:
            self.env["DOCKER_HOST"] = host
        self.binary = shutil.which("docker") or "docker"

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise ContainerError(f"docker {' '.join(args[:2])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return done

    def answers(self) -> bool:
        try:
            return self.run("version", "--format", "{{.Server.Version}}", timeout=20, check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


@contextmanager
def daemon() -> Iterator[Docker]:
    """A Docker daemon that answers: the machine's own, or one started here and stopped afterwards."""
    existing = Docker(None)
    if existing.answers():
        yield existing
        return
    install()
    RUN.mkdir(parents=True, exist_ok=True)
    STATE.mkdir(parents=True, exist_ok=True)
    socket = f"unix://{RUN}/docker.sock"
    log = open(RUN / "dockerd.log", "wb")  # noqa: SIM115 - open for the daemon's whole life
    process = subprocess.Popen(
        ["dockerd", f"--host={socket}", f"--data-root={STATE}", f"--exec-root={RUN}/exec",
         f"--pidfile={RUN}/dockerd.pid", "--bridge=none", "--iptables=false", "--ip6tables=false"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    docker = Docker(socket)
    try:
        deadline = time.monotonic() + 60
        while not docker.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise ContainerError(f"dockerd did not start: {(RUN / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield docker
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def ensure_base(docker: Docker) -> None:
    """The Dockerfile's base image: present, pulled, or made from Debian's packages."""
    if docker.run("image", "inspect", BASE, check=False).returncode == 0:
        return
    if docker.run("pull", BASE, timeout=300, check=False).returncode == 0:
        return
    with tempfile.TemporaryDirectory(prefix="bulkmail-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), "http://deb.debian.org/debian"],
            capture_output=True, check=True, timeout=900,
        )  # fmt: skip
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        changes: list[str] = []
        host_ca = os.environ.get("PIP_CERT")
        if host_ca and Path(host_ca).is_file():
            target = rootfs / HOST_CA_IN_IMAGE.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(host_ca, target)
            changes = ["--change", f"ENV PIP_CERT={HOST_CA_IN_IMAGE}"]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [docker.binary, "import", *changes, "-", BASE], stdin=tar.stdout, env=docker.env, capture_output=True
        )
        tar.wait()
        if imported.returncode != 0:
            raise ContainerError(f"docker import failed: {imported.stderr.decode()[-2000:]}")


def build(docker: Docker, context: Path, tag: str) -> None:
    """Build the project's Dockerfile (the host's network: the daemon here has no bridge)."""
    ensure_base(docker)
    docker.run("build", "--network=host", "-t", tag, str(context), timeout=1500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["install"])
    parser.parse_args()
    install()


if __name__ == "__main__":
    main()
