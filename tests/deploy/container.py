"""A real systemd for tests/deploy: this machine's own Debian booted under `systemd-nspawn --boot`, with
this checkout at /opt/apoena, where docs/apoena.service expects it.

    container = Container(folder, "apoena-test").boot()
    container.run("systemctl", "start", "apoena")        # a command in the container (nsenter into all its namespaces)
    container.run_in_network(python, "-m", "tests.deploy.call", ...)  # a host command inside its private network
    container.stop()                                       # poweroff; the console is kept in folder/console.log

How it is put together, because PID 1 here is not systemd (see tests/deploy/test_systemd.py):

- `boot` runs `python -m tests.deploy.container boot FOLDER NAME` under `unshare --mount`, so every mount
  below lives in a private mount namespace and is gone when the container ends, whatever happens to
  the test: a tmpfs, and on it the upper layer of an overlay whose lower layer is this machine's /
  (systemd-nspawn refuses -D / with --volatile=overlay). The container writes into the tmpfs only.
- Before boot, in the overlay: a fresh /etc/machine-id (the host's would be shared), timers.target
  masked (apt-daily, man-db… would run at boot), and init is told to reach basic.target, so services
  this machine has enabled (PostgreSQL, Redis, Avahi) do not start in the container.
- The network is private (only loopback): Apoena's ports 9092/8080 cannot collide with anything on
  the host, and the test reaches them by entering the container's network namespace.
- /opt/apoena is an overlay of this checkout (read-only) with a small layer on top that makes its
  .venv look as if `./dev.sh setup` had been run in /opt/apoena: the entry scripts' shebangs and
  the editable install's paths say /opt/apoena. When the venv's base Python lives under /root or
  /home (a pyenv, as on the build machine), it is bound read-only at /opt/apoena-python and the
  venv pointed there, with its lib/ in ld.so.conf: the service's user cannot reach /root (mode 0700)
  and ProtectHome=yes hides both, so the venv as it is fails with status=203/EXEC, Permission denied.
  That is a fact about the install, not the unit: its comments say so.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
VENV = ROOT / ".venv"
INSTALL_DIR = Path("/opt/apoena")
PYTHON_DIR = Path("/opt/apoena-python")
SYSTEMD = Path("/lib/systemd/systemd")


def missing_prerequisites() -> list[str]:
    """What this machine lacks to boot the container; empty when it can."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (mounts, nspawn)")
    for tool in ("systemd-nspawn", "unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            missing.append(f"{tool} ({'apt-get install systemd-container' if tool == 'systemd-nspawn' else 'util-linux'})")
    if not os.access(SYSTEMD, os.X_OK):
        missing.append(f"{SYSTEMD} (apt-get install systemd)")
    if not os.access(VENV / "bin" / "apoena", os.X_OK):
        missing.append(f"{VENV}/bin/apoena (./dev.sh setup)")
    return missing


def base_python() -> Path:
    """The Python installation the venv was made from (pyvenv.cfg's home is its bin/)."""
    config = (VENV / "pyvenv.cfg").read_text()
    home = re.search(r"^home\s*=\s*(.+)$", config, re.M).group(1).strip()
    return Path(home).parent


def python_needs_moving(base: Path) -> bool:
    """Whether a service user under ProtectHome=yes could not run this Python where it is."""
    return any(base.is_relative_to(top) for top in (Path("/root"), Path("/home"), Path("/run/user")))


class Container:
    """One booted container: its nspawn process, its PID 1 (the leader) and the commands run in it."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name
        self.process: subprocess.Popen | None = None
        self.leader: int | None = None
        self.console = folder / "console.log"

    def boot(self, timeout: float = 120.0) -> Container:
        """Start the container and wait until its systemd has finished booting (running or degraded)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.console.open("wb") as console:
            self.process = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--",
                 sys.executable, "-m", "tests.deploy.container", "boot", str(self.folder), self.name],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while self.leader is None:
            self._check_alive()
            self.leader = self._find_leader()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the container's systemd did not appear in {timeout:.0f} s:\n{self.read_console()[-3000:]}")
            time.sleep(0.1)
        while True:
            self._check_alive()
            state = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=timeout).stdout.strip()
            if state in ("running", "degraded"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the container did not finish booting ({state!r}):\n{self.read_console()[-3000:]}")
            time.sleep(0.5)
        if python_needs_moving(base_python()):
            self.run("ldconfig")  # /opt/apoena-python/lib, bound at boot, into the cache
        return self

    def _find_leader(self) -> int | None:
        """The container's PID 1 as the host sees it: the systemd that nspawn started."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == self.process.pid and name == "systemd":
                return int(entry.name)
        return None

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"systemd-nspawn exited ({self.process.returncode}):\n{self.read_console()[-3000:]}")

    def run(self, *argv: str, check: bool = True, timeout: float = 60.0, input: str | None = None) -> subprocess.CompletedProcess:
        """Run a command in the container, as root, in all its namespaces (like `machinectl shell`)."""
        return self._run(["nsenter", "--target", str(self.leader), "--all", "--", *argv], check, timeout, input)

    def run_in_network(self, *argv: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Run a host command (this checkout, this venv) inside the container's private network only."""
        return self._run(self.network_prefix() + list(argv), check, timeout, None)

    def network_prefix(self) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.leader}/ns/net", "--"]

    def _run(self, command: list[str], check: bool, timeout: float, input: str | None) -> subprocess.CompletedProcess:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, input=input, cwd=ROOT)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result

    def read_console(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def stop(self, timeout: float = 60.0) -> None:
        """Power the container off (nspawn turns SIGTERM into a clean shutdown), then SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if self.leader is not None:  # PID 1 of the container's PID namespace: everything in it dies with it
                try:
                    os.kill(self.leader, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.kill()
            self.process.wait(timeout=10)


# ---- what runs under `unshare --mount`: the mounts, the overlay's preparation, then exec systemd-nspawn ----


def _mount(*argv: str) -> None:
    subprocess.run(["mount", *argv], check=True)


def prepare_root(root: Path) -> None:
    """The container's own /etc bits, written into the overlay (the host's files are untouched)."""
    (root / "etc" / "machine-id").write_text(uuid.uuid4().hex + "\n")
    units = root / "etc" / "systemd" / "system"
    for unit in ("timers.target",):  # apt-daily, man-db, e2scrub… would run at boot (Persistent=)
        target = units / unit
        target.unlink(missing_ok=True)
        target.symlink_to("/dev/null")
    if python_needs_moving(base_python()):
        (root / "etc" / "ld.so.conf.d" / "apoena-python.conf").write_text(f"{PYTHON_DIR}/lib\n")


def prepare_venv_layer(layer: Path) -> None:
    """The files that make ROOT/.venv, seen at /opt/apoena/.venv, the venv `./dev.sh setup` makes there."""
    venv = layer / ".venv"
    base = base_python()
    moved = python_needs_moving(base)

    def relocate(text: str) -> str:
        if moved:
            text = text.replace(str(base), str(PYTHON_DIR))
        return text.replace(str(ROOT), str(INSTALL_DIR))

    def write(relative: str, text: str, mode: int = 0o644) -> None:
        target = venv / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    write("pyvenv.cfg", relocate((VENV / "pyvenv.cfg").read_text()))
    shebang = f"#!{VENV}/bin/python"
    for script in (VENV / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            try:
                text = script.read_text()
            except UnicodeDecodeError:
                continue
            if text.startswith(shebang):
                write(f"bin/{script.name}", relocate(text), 0o755)
    for site in VENV.glob("lib/python3.*/site-packages"):
        for path in [*site.glob("__editable__*.py"), *site.glob("*.pth")]:
            text = path.read_text()
            if str(ROOT) in text:
                write(str(path.relative_to(VENV)), relocate(text))
    if moved:
        for link in (VENV / "bin").iterdir():
            if link.is_symlink() and os.readlink(link).startswith(str(base)):
                target = venv / "bin" / link.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(relocate(os.readlink(link)))


def boot(folder: Path, name: str) -> None:
    layers, root = folder / "layers", folder / "root"
    for path in (layers, root):
        path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(layers))
    for sub in ("upper", "work", "apoena"):
        (layers / sub).mkdir()
    _mount("-t", "overlay", "overlay", "-o", f"lowerdir=/,upperdir={layers}/upper,workdir={layers}/work", str(root))
    prepare_root(root)
    prepare_venv_layer(layers / "apoena")
    command = [
        "systemd-nspawn", "--quiet", "--directory", str(root), "--boot", "--machine", name,
        "--register=no", "--keep-unit", "--private-network", "--console=read-only",
        f"--overlay-ro={ROOT}:{layers / 'apoena'}:{INSTALL_DIR}",
    ]  # fmt: skip
    if python_needs_moving(base_python()):
        command.append(f"--bind-ro={base_python()}:{PYTHON_DIR}")
    command += ["--", "--unit=basic.target"]  # to init: not multi-user.target with this machine's enabled services
    sys.stdout.flush()
    os.execvp(command[0], command)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "boot":
        boot(Path(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("usage: python -m tests.deploy.container boot FOLDER NAME  (under unshare --mount, as root)")
