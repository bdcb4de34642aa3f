"""docs/apoena.service under a real systemd; kept out of CI, run as root with

    APOENA_SYSTEMD=1 .venv/bin/python -m pytest tests/deploy -v

PID 1 on the build machine is not systemd, so the module boots one: this machine's own Debian under
`systemd-nspawn --boot`, with this checkout at /opt/apoena (tests/deploy/container.py says how). The
unit is installed by the commands written in its own comments, run as they are, with config.json's
paths set as its "State" comment says. Then, against the real service:

- it starts, and a recorded delivery (fixtures/calls/entrega.slin) played over AudioSocket is greeted
  and completed, record and all, with the sandbox and the syscall filter on and no SIGSYS;
- the sandbox holds: user apoena, no capabilities, no_new_privs, a seccomp filter that does kill a
  syscall outside it; writing anywhere but the state, cache and private temporary folders fails;
- kill -9 in the middle of a call: restarted after RestartSec, the call's record kept, and closed
  as "server stopped mid-call" at the next start; a SIGTERM not sent by systemctl (exit 0) is
  restarted too (Restart=always);
- `systemctl stop` during a call: exit 0 within TimeoutStopSec, the call ended by the server,
  the embedded Redis alive for the drain (KillMode=mixed);
- a configuration mistake (exit 2) is not restarted.

The container's console and journal are kept in the test's temporary folder (console.log,
journal.txt), with the times measured (measured.json, also printed with -s).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from .container import ROOT, Container, missing_prerequisites

pytestmark = [
    pytest.mark.systemd,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        os.environ.get("APOENA_SYSTEMD") != "1",
        reason="set APOENA_SYSTEMD=1 to boot systemd in a container and run docs/apoena.service in it "
        "(needs root, systemd and systemd-nspawn: apt-get install systemd-container, and ./dev.sh setup)",
    ),
]

UNIT_FILE = ROOT / "docs" / "apoena.service"
UNIT_TEXT = UNIT_FILE.read_text()
CALL = ROOT / "fixtures" / "calls" / "entrega.slin"
EXPECTED = json.loads(CALL.with_suffix(".json").read_text())["expected"]
APOENA = "/opt/apoena/.venv/bin/apoena"
CONFIG = "/etc/apoena/config.json"
RECORDS = "/var/lib/apoena/calls.db"
PORT, WEB_PORT = 9092, 8080
FIRST_READY_TIMEOUT = 300.0  # the first start fills the cache (Whisper assembled, phrases synthesized)
READY_TIMEOUT = 120.0


def unit_setting(name: str) -> str:
    return re.search(rf"^{name}=(.*)$", UNIT_TEXT, re.M).group(1).strip()


RESTART_SEC = float(unit_setting("RestartSec"))
TIMEOUT_STOP_SEC = float(unit_setting("TimeoutStopSec"))


def documented_install_commands() -> list[str]:
    """The shell commands of the unit's "Install (as root)" comment, without `journalctl -f` and comments."""
    block = UNIT_TEXT.split("# Install (as root)", 1)[1].split("\n#\n", 1)[0]
    commands = [line[len("#   ") :] for line in block.splitlines() if line.startswith("#   ")]
    commands = [re.sub(r"\s+#\s.*$", "", command).replace(" && journalctl -u apoena -f", "") for command in commands]
    assert any(command.startswith("useradd") for command in commands) and commands[-1] == "systemctl enable --now apoena"
    return commands


def documented_state_paths() -> dict:
    """The config.json keys the unit's "State" comment points at /var/lib/apoena and /var/cache/apoena."""
    block = UNIT_TEXT.split("relative defaults there, e.g.\n", 1)[1].split("\n# (relative paths", 1)[0]
    return json.loads("{" + "".join(line.lstrip("#").strip() for line in block.splitlines()) + "}")


def merged(base: dict, changes: dict) -> dict:
    result = dict(base)
    for key, value in changes.items():
        result[key] = merged(result.get(key, {}), value) if isinstance(value, dict) else value
    return result


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


class Service:
    """apoena.service in the booted container, and the ways the tests reach it."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.good_config = ""
        self.measured: dict[str, object] = {}
        self.callers: list[subprocess.Popen] = []  # calls in progress, hung up after each test whatever happened

    def run(self, *argv: str, **kwargs) -> subprocess.CompletedProcess:
        return self.container.run(*argv, **kwargs)

    def show(self, *properties: str) -> dict[str, str]:
        output = self.run("systemctl", "show", "apoena", "--property", ",".join(properties)).stdout
        return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)

    def main_pid(self) -> int:
        return int(self.show("MainPID")["MainPID"])

    def cursor(self) -> str:
        output = self.run("journalctl", "--lines=0", "--show-cursor", "--no-pager").stdout
        return output.strip().rsplit("-- cursor: ", 1)[1]

    def journal(self, after: str | None = None) -> str:
        """The unit's journal (its own lines and systemd's about it), after a cursor."""
        argv = ["journalctl", "--unit=apoena", "--no-pager", "--output=short-precise"]
        return self.run(*argv, *([f"--after-cursor={after}"] if after else [])).stdout

    def as_apoena(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """A command as the service's user (files it creates in /var/lib/apoena stay the service's)."""
        return self.run("runuser", "-u", "apoena", "--", *argv, check=check)

    def record(self, call_id: str) -> dict:
        return json.loads(self.as_apoena(APOENA, "calls", "show", call_id, "--db", RECORDS, "--json").stdout)

    def http(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """GET the monitoring page's `path` from inside the container's network: (status, body); 0 when nothing answers."""
        code = (
            "import sys, urllib.request, urllib.error\n"
            "try:\n    r = urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])); print(r.status); print(r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n    print(e.code)\n"
            "except OSError:\n    print(0)\n"
        )  # fmt: skip
        url = f"http://127.0.0.1:{WEB_PORT}{path}"
        output = self.container.run_in_network(sys.executable, "-c", code, url, str(timeout), timeout=timeout + 10).stdout
        status, _, body = output.partition("\n")
        return int(status), body

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Seconds until the server answers (its page and API come up once calls can be taken)."""
        start = time.monotonic()

        def ready() -> bool:
            state = self.show("ActiveState")["ActiveState"]
            assert state in ("active", "activating"), f"apoena.service is {state}:\n{self.journal()[-3000:]}"
            return self.http("/api/stats", timeout=3)[0] == 200

        wait_for(ready, timeout, "apoena serve ready (GET /api/stats)", interval=0.3)
        return time.monotonic() - start

    def live_calls(self) -> list[dict]:
        status, body = self.http("/api/live")
        return json.loads(body)["calls"] if status == 200 else []

    def call(self, timeout: float = 90.0) -> dict:
        """Play the recorded delivery to its end; the caller's report."""
        argv = [sys.executable, "-m", "tests.deploy.call", "127.0.0.1", str(PORT), str(CALL), "--timeout", str(timeout)]
        output = self.container.run_in_network(*argv, timeout=timeout + 30).stdout
        return json.loads(output.strip().splitlines()[-1])

    def start_call(self) -> tuple[subprocess.Popen, dict]:
        """Start the recorded delivery and return once the greeting is heard, the call still going."""
        argv = [sys.executable, "-m", "tests.deploy.call", "127.0.0.1", str(PORT), str(CALL), "--until-greeting", "--timeout", "60"]
        caller = subprocess.Popen(self.container.network_prefix() + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.callers.append(caller)
        first = caller.stdout.readline()
        assert first, f"the caller ended before the greeting: {caller.stderr.read()[-2000:]}"
        report = json.loads(first)
        assert report["greeting_seconds"] is not None, report
        return caller, report

    def finish_call(self, caller: subprocess.Popen, timeout: float = 60.0) -> dict:
        output, errors = caller.communicate(timeout=timeout)
        assert caller.returncode == 0, errors[-2000:]
        return json.loads(output.strip().splitlines()[-1])

    def in_sandbox(self, command: str, user: str = "apoena") -> subprocess.CompletedProcess:
        """`sh -c command` in the running server's own mount namespace (its view of the file system), as `user`."""
        argv = ["nsenter", f"--target={self.main_pid()}", "--mount", "--"]
        if user != "root":
            argv += ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
        return self.run(*argv, "sh", "-c", command, check=False)


def install(service: Service) -> None:
    """The unit's install comment, command by command, in /opt/apoena; config.json edited as its "State" comment says."""
    for command in documented_install_commands():
        if command.startswith("systemctl enable --now"):
            start = time.monotonic()
            service.run("sh", "-c", f"cd /opt/apoena && {command}", timeout=FIRST_READY_TIMEOUT)  # returns once ready
            service.measured["first_start_active_seconds"] = round(time.monotonic() - start, 2)
            assert service.show("ActiveState")["ActiveState"] == "active"
            # Type=notify: `systemctl start` returned only once the server said READY=1, so it answers now
            assert service.http("/api/stats", timeout=3)[0] == 200, "active before it answers"
            assert "answering calls on" in service.show("StatusText")["StatusText"]
            continue
        service.run("sh", "-c", f"cd /opt/apoena && {command}")
        if command.startswith("cp config.json"):
            config = merged(json.loads(service.run("cat", CONFIG).stdout), documented_state_paths())
            service.run("sh", "-c", f"cat > {CONFIG}", input=json.dumps(config, indent=2, ensure_ascii=False))
    service.good_config = service.run("cat", CONFIG).stdout


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Iterator[Service]:
    missing = missing_prerequisites()
    if missing:
        pytest.fail("APOENA_SYSTEMD=1 but this machine lacks: " + ", ".join(missing))
    folder = tmp_path_factory.mktemp("systemd")
    container = Container(folder, f"apoena-test-{os.getpid()}")
    service = Service(container)
    try:
        start = time.monotonic()
        container.boot()
        service.measured["boot_seconds"] = round(time.monotonic() - start, 2)
        install(service)
        yield service
    finally:
        if container.leader is not None and container.process.poll() is None:
            journal = container.run("journalctl", "--no-pager", "--output=short-precise", check=False).stdout
            (folder / "journal.txt").write_text(journal)
        container.stop()
        (folder / "measured.json").write_text(json.dumps(service.measured, indent=2))
        print(f"\nmeasured ({folder}): {json.dumps(service.measured)}")


@pytest.fixture
def service(deployed: Service) -> Iterator[Service]:
    """The service running with its good config, ready for calls, before each test; its callers gone after it."""
    if deployed.run("cat", CONFIG).stdout != deployed.good_config:
        deployed.run("sh", "-c", f"cat > {CONFIG}", input=deployed.good_config)
    if deployed.show("ActiveState")["ActiveState"] != "active":
        deployed.run("systemctl", "start", "apoena")
    deployed.wait_ready()
    yield deployed
    while deployed.callers:
        caller = deployed.callers.pop()
        if caller.poll() is None:
            caller.kill()
        caller.communicate()


def test_starts_and_answers_a_recorded_call_in_its_sandbox(service: Service) -> None:
    before = service.show("ActiveState", "SubState", "NRestarts", "MainPID")
    assert (before["ActiveState"], before["SubState"]) == ("active", "running")
    cursor = service.cursor()

    report = service.call()

    assert report["greeting_seconds"] is not None and report["greeting_seconds"] < 5, report
    assert report["hung_up"] and report["audio_seconds_received"] > 4, report
    service.measured["call"] = report
    record = service.record(report["call_id"])
    assert record["outcome"] == "completed", record
    assert record["final"]["valid_for_action"] is EXPECTED["valid_for_action"]
    slots = {key: value for key, value in EXPECTED.items() if key != "valid_for_action"}
    assert {key: record["final"]["dados"].get(key) for key in slots} == slots, record["final"]
    status, metrics = service.http("/metrics")
    assert status == 200 and re.search(r'^apoena_calls_total\{condominium="default",outcome="completed"\} [1-9]', metrics, re.M)
    after = service.show("ActiveState", "NRestarts", "MainPID")
    assert (after["MainPID"], after["NRestarts"]) == (before["MainPID"], before["NRestarts"]), "the server was not restarted"
    journal = service.journal(cursor)
    assert f"call {report['call_id']} ended: completed" in journal
    for sign in ("status=31/SYS", "SIGSYS", "code=killed"):  # the syscall filter let the whole call through
        assert sign not in journal, (sign, journal)


def test_sandbox_confines_the_running_server(service: Service) -> None:
    pid = service.main_pid()
    status = dict(line.split(":", 1) for line in service.run("cat", f"/proc/{pid}/status").stdout.splitlines())
    apoena_uid = service.run("id", "-u", "apoena").stdout.strip()
    assert status["Uid"].split() == [apoena_uid] * 4
    assert status["NoNewPrivs"].strip() == "1" and status["Seccomp"].strip() == "2"
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
    cgroup = service.show("ControlGroup")["ControlGroup"]
    procs = service.run("sh", "-c", f"cat /sys/fs/cgroup/unified{cgroup}/cgroup.procs 2>/dev/null || cat /sys/fs/cgroup{cgroup}/cgroup.procs").stdout.split()
    users = {service.run("ps", "-o", "user=,comm=", "-p", p).stdout.strip() for p in procs}
    assert len(procs) >= 2 and all(user.startswith("apoena ") for user in users), users  # apoena serve and its embedded Redis

    for writable in ("/var/lib/apoena", "/var/cache/apoena", "/tmp", "/var/tmp"):
        result = service.in_sandbox(f"echo probe > {writable}/sandbox-probe && rm {writable}/sandbox-probe")
        assert result.returncode == 0, (writable, result.stderr)
    for folder, error in [("/etc/apoena", "Read-only file system"), ("/etc", "Read-only file system"), ("/opt/apoena", "Read-only file system"),
                          ("/usr/local", "Read-only file system"), ("/var", "Read-only file system"), ("/srv", "Read-only file system"),
                          ("/home", "Permission denied"), ("/root", "Permission denied")]:  # fmt: skip
        result = service.in_sandbox(f"echo probe > {folder}/sandbox-probe")
        assert result.returncode != 0 and error in result.stderr, (folder, result.stderr)
    for folder in ("/etc/apoena", "/opt/apoena", "/usr"):  # not even root could write there: read-only mounts, not permissions
        result = service.in_sandbox(f"echo probe > {folder}/sandbox-probe", user="root")
        assert result.returncode != 0 and "Read-only file system" in result.stderr, (folder, result.stderr)
    assert service.in_sandbox("ls -A /home /root", user="root").stdout.split() == ["/home:", "/root:"]  # ProtectHome: empty
    assert service.in_sandbox("echo probe > /tmp/private-tmp-probe").returncode == 0
    assert service.run("test", "-e", "/tmp/private-tmp-probe", check=False).returncode != 0, "PrivateTmp: the server's /tmp is its own"
    service.in_sandbox("rm /tmp/private-tmp-probe")
    limits = service.run("cat", f"/proc/{pid}/limits").stdout
    service.measured["open_files_limit"] = re.search(r"^Max open files\s+(\d+)", limits, re.M).group(1)

    # the filter kills what it forbids, and says so in the journal: chroot() is in @privileged
    filters = [f"--property={line}" for line in re.findall(r"^(SystemCall(?:Filter|Architectures)=.*)$", UNIT_TEXT, re.M)]
    forbidden = service.run("systemd-run", "--wait", "--pipe", "--quiet", "--property=User=apoena", *filters,
                            "/opt/apoena/.venv/bin/python", "-c", "import os; os.chroot('/')", check=False)  # fmt: skip
    assert forbidden.returncode != 0
    assert "status=31/SYS" in service.run("journalctl", "--no-pager", "--lines=50").stdout
    assert "status=31/SYS" not in service.journal(), "apoena serve itself never met the filter"


def test_kill_9_mid_call_is_restarted_after_restartsec_and_the_record_kept(service: Service) -> None:
    caller, greeted = service.start_call()
    call_id = greeted["call_id"]
    wait_for(lambda: any(c["call_id"] == call_id and c["turn_count"] >= 1 for c in service.live_calls()), 30, "the call's first turn")
    old = service.main_pid()
    cursor = service.cursor()

    service.run("kill", "-9", str(old))
    killed = time.monotonic()

    def restarted() -> bool:  # started again; `activating` until it says READY=1 (Type=notify)
        now = service.show("MainPID", "ActiveState")
        return now["ActiveState"] in ("activating", "active") and now["MainPID"] not in ("0", str(old))

    wait_for(restarted, RESTART_SEC + 30, "apoena.service started again with a new main PID", interval=0.05)
    restart_seconds = time.monotonic() - killed
    hung_up = service.finish_call(caller)
    ready_seconds = service.wait_ready()
    service.measured["kill_9"] = {"restarted_after_seconds": round(restart_seconds, 2), "ready_after_restart_seconds": round(ready_seconds, 2)}
    assert RESTART_SEC - 0.1 <= restart_seconds <= RESTART_SEC + 3, restart_seconds
    assert hung_up["hung_up"], "the caller saw the line drop"
    journal = service.journal(cursor)
    assert "Main process exited, code=killed, status=9/KILL" in journal
    assert "Scheduled restart job, restart counter is at" in journal
    closed = re.search(r"(\d+) left open by a stopped server closed", journal)
    assert closed and int(closed.group(1)) >= 1, journal

    record = service.record(call_id)
    assert (record["outcome"], record["reason"]) == ("error", "server stopped mid-call"), record
    assert record["turn_count"] >= 1 and record["turns"][0]["transcript"], record  # the turn before the kill survived


def test_sigterm_not_from_systemctl_is_restarted_too(service: Service) -> None:
    """What Restart=always adds over on-failure: `apoena serve` ends cleanly (0) on a stray SIGTERM, and still comes back."""
    old = service.main_pid()
    cursor = service.cursor()

    service.run("kill", "-TERM", str(old))

    wait_for(lambda: service.show("MainPID")["MainPID"] not in ("0", str(old)), RESTART_SEC + 30, "a new main PID", interval=0.05)
    service.measured["sigterm_ready_after_seconds"] = round(service.wait_ready(), 2)
    journal = service.journal(cursor)
    assert "apoena.service: Deactivated successfully." in journal  # exit 0: on-failure would have left it stopped
    assert "Scheduled restart job, restart counter is at" in journal


def test_stop_during_a_call_exits_0_within_timeoutstopsec(service: Service) -> None:
    caller, greeted = service.start_call()
    time.sleep(2)  # the visitor is talking
    cursor = service.cursor()

    start = time.monotonic()
    service.run("systemctl", "stop", "apoena", timeout=TIMEOUT_STOP_SEC + 30)
    stop_seconds = time.monotonic() - start

    service.measured["stop_during_a_call_seconds"] = round(stop_seconds, 2)
    assert stop_seconds < TIMEOUT_STOP_SEC, stop_seconds
    after = service.show("ActiveState", "Result", "ExecMainStatus")
    assert after == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}, after
    assert service.finish_call(caller)["hung_up"]
    journal = service.journal(cursor)
    assert "waiting up to 10 s for calls in progress" in journal
    assert f"call {greeted['call_id']} ended:" in journal  # the server closed the call itself
    for sign in ("timed out", "Killing process", "SIGKILL", "conversation memory", "Traceback"):  # Redis outlived the drain
        assert sign not in journal, (sign, journal)
    record = service.record(greeted["call_id"])
    assert record["outcome"] != "interrupted" and record["ended_at"], record


def test_configuration_mistake_exit_2_is_not_restarted(service: Service) -> None:
    config = json.loads(service.good_config)
    config["system"]["silence_treshold_seconds"] = 0.7  # a misspelt key
    service.run("sh", "-c", f"cat > {CONFIG}", input=json.dumps(config))
    cursor = service.cursor()

    restart = service.run("systemctl", "restart", "apoena", check=False)
    # Type=notify: the start never said READY=1, so `systemctl restart` itself reports the failure
    assert restart.returncode != 0 and "apoena.service" in restart.stderr, restart

    wait_for(lambda: service.show("ActiveState")["ActiveState"] == "failed", 60, "apoena.service failed")
    failed = service.show("Result", "ExecMainStatus", "NRestarts")
    assert failed == {"Result": "exit-code", "ExecMainStatus": "2", "NRestarts": "0"}, failed
    time.sleep(RESTART_SEC + 3)
    still = service.show("ActiveState", "NRestarts")
    assert still == {"ActiveState": "failed", "NRestarts": "0"}, still
    journal = service.journal(cursor)
    assert "unknown key 'system.silence_treshold_seconds'" in journal
    assert "status=2/INVALIDARGUMENT" in journal and "Scheduled restart job" not in journal
