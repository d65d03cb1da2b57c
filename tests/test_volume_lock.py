"""One replicator per volume, across containers: two `litefix boot` in separate PID namespaces.

Each boot runs under `unshare --pid --fork --mount-proc`, as a container does: neither sees the
other's processes in /proc. Only the lock on the volume (`<db dir>/.litefix/boot.lock`) can tell the
second boot that the first one replicates these databases. Kamal's web and job roles share one
image and one entrypoint; the job role runs with `--no-replicate` and must start no Litestream.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import Result, litefix
from tests.litestream_harness import VERSIONS, binary, count_rows, wait_for
from tests.test_boot import NAMES, ROWS_PER_BOOT, Container

pytestmark = pytest.mark.litestream


def _unshare_works() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, check=False)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not _unshare_works() and not os.environ.get("CI"),
    reason="needs root and unshare (CI runs as root, where this never skips)",
)


def in_container(argv: list[str]) -> list[str]:
    """A command run in its own PID namespace with its own /proc, like a second container."""
    return ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-m", "litefix", *argv]


def start_in_container(container: Container, argv: list[str], **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        in_container(argv),
        env=container.env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_in_container(container: Container, argv: list[str], timeout: float = 120, **env: str) -> Result:
    proc = subprocess.run(
        in_container(argv), env=container.env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """`docker stop`: SIGTERM to the container's PID 1 (unshare itself forwards no signal)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    os.kill(int(children[0]), signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def restores_clean(container: Container) -> dict[str, int]:
    """Every replica restored by the real binary into a scratch directory: rows per database, and
    integrity_check must say ok."""
    rows = {}
    with tempfile.TemporaryDirectory(prefix="litefix-volume-") as scratch:
        for name in NAMES:
            out = Path(scratch) / name
            cmd = [str(binary(container.version)), "restore", "-config", str(container.config), "-o", str(out)]
            subprocess.run([*cmd, str(container.db(name))], check=True, capture_output=True, timeout=60)
            import sqlite3

            con = sqlite3.connect(out)
            try:
                assert [r[0] for r in con.execute("PRAGMA integrity_check")] == ["ok"], name
                rows[name] = int(con.execute("SELECT count(*) FROM messages").fetchone()[0])
            finally:
                con.close()
    return rows


@pytest.fixture
def container(tmp_path: Path, request: pytest.FixtureRequest) -> Container:
    return Container(tmp_path, getattr(request, "param", "0.5.17")).setup()


@needs_namespaces
@pytest.mark.slow
@pytest.mark.parametrize("container", VERSIONS, indirect=True)
def test_a_second_boot_in_another_pid_namespace_refuses_then_waits_for_the_volume_lock(container: Container) -> None:
    """The new container of a rolling deploy boots while the old one still replicates. It cannot see
    the old Litestream in /proc; the lock on the volume says who holds it, so it refuses before it
    restores, prepares or starts anything (exit 4). With --wait it takes over once the old one has
    stopped. Every replica restores clean afterwards, with every row both lives wrote."""
    first = start_in_container(container, container.argv(), WAIT_FOR_SIGNAL="1", BOOT="1")
    second: subprocess.Popen[str] | None = None
    try:
        wait_for(container.state.exists, timeout=60, what="the first container's app to start")
        assert len(container.litestream_pids()) == 1
        container.state.unlink()

        refused = run_in_container(container, container.argv(), BOOT="2")
        assert refused.code == 4, refused.err
        assert "Error: another litefix boot (pid 1 in its own PID namespace" in refused.err
        assert f"holds {container.app_dir}/.litefix/boot.lock" in refused.err and "replicating" in refused.err
        assert "prepare: " not in refused.err and "starting " not in refused.err
        assert not container.state.exists() and len(container.litestream_pids()) == 1

        checked = litefix("check", "--config", container.config, "--json", env=container.env())
        deployment = [f for line in checked.json()["deployment"] for f in line["findings"]]
        assert any(f["code"] == "litestream-already-running" and f["evidence"].get("lock") for f in deployment)

        second = start_in_container(container, container.argv("--wait", "60"), WAIT_FOR_SIGNAL="1", BOOT="2")
        wait_for(
            lambda: "waiting up to 60s for the litefix boot" in _peek_lock_wait(container), what="the second to wait"
        )
        code, err = stop(first)
        assert code == 0, err
        wait_for(container.state.exists, timeout=60, what="the second container's app to start")
        assert container.app_state()["seen"] == {name: ROWS_PER_BOOT + 1 for name in NAMES}
        assert len(container.litestream_pids()) == 1
        code, err = stop(second)
        assert code == 0, err
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert container.litestream_pids() == []
    rows = restores_clean(container)
    assert rows == {name: 2 * (ROWS_PER_BOOT + 1) for name in NAMES}
    assert rows[NAMES[0]] == count_rows(container.db(NAMES[0]), "messages")


def _peek_lock_wait(container: Container) -> str:
    """The lock file names its holder; a waiting boot has logged that it waits (stderr is piped, so
    read the holder from the lock instead: the first boot is still there and replicating)."""
    lock = container.app_dir / ".litefix" / "boot.lock"
    text = lock.read_text() if lock.exists() else ""
    return "waiting up to 60s for the litefix boot" if '"phase": "replicating"' in text else ""


@needs_namespaces
@pytest.mark.parametrize("container", VERSIONS, indirect=True)
def test_a_job_role_waits_for_the_databases_and_starts_no_second_litestream(container: Container) -> None:
    """Kamal's job role: same image, same entrypoint, `--no-replicate` (or a command that
    `--replicate-for` does not match). It waits until the web role's boot replicates, then runs with
    the databases in place, and never starts a Litestream of its own."""
    web = start_in_container(container, container.argv(), WAIT_FOR_SIGNAL="1")
    try:
        job_state = container.app_dir / "job-state.json"
        app = [sys.executable, str(container.root / "app.py"), str(job_state), *container.dbs]
        job = run_in_container(container, container.argv("--no-replicate", prepare=None, app=app), ROWS="3")
        assert job.code == 0, job.err
        assert "this role does not replicate" in job.err and "starting " not in job.err
        assert len(container.litestream_pids()) == 1
        console = run_in_container(
            container,
            container.argv("--replicate-for", r"rails server", prepare=None, app=[sys.executable, "-c", "pass"]),
        )
        assert console.code == 0, console.err
        assert "this role does not replicate" in console.err
        assert len(container.litestream_pids()) == 1
    finally:
        code, err = stop(web)
    assert code == 0, err
    assert container.litestream_pids() == []


def test_a_role_that_does_not_replicate_gives_up_when_the_databases_never_come(container: Container) -> None:
    """Bounded: no database and no replicating boot within --wait is one sentence and exit 4."""
    result = container.boot("--no-replicate", "--wait", "0.5", prepare=None)
    assert result.code == 4, result.err
    assert "Error: the databases were not in place within 0s (missing: " in result.err
    assert not container.state.exists() and container.litestream_pids() == []
