"""`litefix explain` as a pipeline step: streams, devices, FIFOs, overlong lines, exit codes, versions.

The CLI runs as a real process on real files, FIFOs and pipes; no timing assertions here
(throughput is measured by `make bench`), only that nothing hangs or eats memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from litefix.explain import MAX_LINE, explain
from litefix.explain.group import MAX_UNKNOWN_KINDS
from tests.helpers import ROOT, litefix

LOGS = ROOT / "tests" / "logs"
ACCESS_DENIED_V1 = (
    'time=2024-06-25T09:59:32.962Z level=ERROR msg="monitor error" db=/data/app.db replica=s3 '
    'error="AccessDenied: Access Denied"'
)


def run_piped(producer: list[str], *args: str) -> subprocess.CompletedProcess[bytes]:
    """`producer | litefix ARGS`, both real processes."""
    source = subprocess.Popen(producer, stdout=subprocess.PIPE)
    try:
        return subprocess.run(
            [sys.executable, "-m", "litefix", *args], stdin=source.stdout, capture_output=True, timeout=120, check=False
        )
    finally:
        assert source.stdout is not None
        source.stdout.close()
        source.wait(10)


# --- exit codes for pipelines --------------------------------------------------------------------


def test_an_unknown_error_line_fails_the_pipeline_and_is_still_listed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text('time=2026-11-26T10:00:00Z level=ERROR msg="something new in 0.6" db=/data/app.db\n')
    result = litefix("explain", log)
    assert result.code == 1, result.out
    assert "UNKNOWN 1 kind" in result.out and "1 at ERROR level" in result.out


def test_routine_lines_of_a_healthy_0_5_start_exit_zero() -> None:
    result = litefix("explain", LOGS / "v05-init.log")
    assert result.code == 0, result.out
    assert "routine" in result.out and "UNKNOWN" not in result.out


def test_a_warning_alone_exits_zero() -> None:
    assert litefix("explain", LOGS / "v03-restart-after-kill.log").code == 0


# --- wrapped continuations -------------------------------------------------------------------------


def test_an_sdk_status_code_line_belongs_to_the_error_before_it() -> None:
    pasted = f"{ACCESS_DENIED_V1}\n\tstatus code: 403, request id: 3P8G16JJVW7SM3J5, host id: Qi1/C5P6=\n"
    explanation = explain(pasted)
    assert explanation.records == 1 and explanation.lines == 2
    assert explanation.ids() == ["s3-access-denied"]
    assert "status code: 403" in explanation.known[0].example
    plain = (
        "web-1 | /data/app.db(s3): monitor error: AccessDenied: Access Denied\n"
        "web-1 | \tstatus code: 403, request id: X\n"
    )
    assert explain(plain).records == 1


def test_the_innermost_known_cause_of_a_wrapped_chain_is_explained_with_the_action() -> None:
    line = (
        'time=2025-12-01T10:00:00Z level=ERROR msg="sync error" system=store db=app.db error="monitor error: write '
        "ltx file: s3: upload to db/0000/01-01.ltx: operation error S3: PutObject, https response error "
        'StatusCode: 403, RequestID: X, HostID: Y, api error AccessDenied: Access Denied" consecutive_errors=3'
    )
    [group] = explain(line).known
    assert group.key == "s3-access-denied" and group.details == ("action: PutObject",)
    assert group.operation.startswith("sync error (db.go:DB.monitor)")  # what failed, outermost first
    assert "s3: upload to %s: %w (s3/replica_client.go" in group.operation


# --- version inference -----------------------------------------------------------------------------


def test_a_banner_pins_the_version_and_old_plain_lines_narrow_it() -> None:
    explanation = explain(
        "litestream v0.3.2\n/data/app.db: sync error: cannot verify wal state: stat x-wal: no such file"
    )
    assert explanation.versions == "0.3.2"
    plain = explain("/data/app.db(s3): monitor error: write snapshot: some error")
    assert "0.3.13" not in plain.versions and "0.5" not in plain.versions and "0.3.11" in plain.versions


def test_0_5_attributes_narrow_the_version_to_0_5() -> None:
    line = 'time=2026-01-01T00:00:00Z level=ERROR msg="sync error" db=a.db error="x" consecutive_errors=2 backoff=1s'
    assert explain(line).versions.startswith("0.5.6")
    system = explain('time=2026-01-01T00:00:00Z level=INFO msg="replica sync" system=store db=a.db')
    assert system.versions.startswith("0.5.10")


def test_an_early_0_3_line_is_not_blamed_on_a_replaced_database() -> None:
    line = (
        "/db/hello.sqlite3: sync error: cannot verify wal state: stat /db/hello.sqlite3-wal: no such file or directory"
    )
    old = explain("litestream v0.3.2\n" + line)
    assert old.ids()[0] == "wal-missing-early-03"
    assert "replaced" not in (old.known[0].signature.cause if old.known[0].signature else "").split("(2)")[0]
    new = explain(
        "time=2024-01-01T00:00:00Z level=INFO msg=litestream version=v0.3.13\n"
        'time=2024-01-01T00:00:01Z level=ERROR msg="sync error" db=/db/a.db '
        'error="cannot verify wal state: stat /db/a.db-wal: no such file or directory"'
    )
    assert new.ids()[0] == "wal-vanished"


def test_a_bug_fixed_later_names_the_fixing_release_and_a_fixed_release_does_not_get_it() -> None:
    line = (
        'level=ERROR msg="monitor error" db=db.sqlite replica=s3 error="write ltx file: operation error S3: '
        'UploadPart, https response error StatusCode: 400, api error MalformedTrailerError: The request contained"'
    )
    old = explain("time=2025-12-18T20:52:22Z level=INFO msg=litestream version=v0.5.5\n" + line)
    group = old.group("s3-malformed-trailer")
    assert group is not None and group.fixed == "fixed in 0.5.6: upgrade"
    new = explain("time=2026-02-01T00:00:00Z level=INFO msg=litestream version=v0.5.12\n" + line)
    assert new.group("s3-malformed-trailer") is None and new.has_errors  # still an error, no contradicted cause
    assert new.catalogued and "monitor error" in new.catalogued[0].operation


def test_several_remaining_causes_are_listed_ranked() -> None:
    explanation = explain('level=ERROR msg="failed to run" error="no matching backup files available"')
    group = explanation.group("no-backups")
    assert group is not None
    assert [s.id for s in group.alternatives] == ["v03-backup-unreadable-by-05"]


# --- streaming and bounded memory ------------------------------------------------------------------


def test_dev_zero_as_a_file_is_refused_at_once() -> None:
    result = litefix("explain", "/dev/zero")
    assert result.code == 3 and "it is a device, not a log file" in result.err


def test_endless_bytes_without_a_newline_on_stdin_end_with_one_sentence() -> None:
    result = run_piped(["head", "-c", str(80 << 20), "/dev/zero"], "explain", "-")
    assert result.returncode == 3
    assert b"without a line break, this is not a text log" in result.stderr
    assert b"Traceback" not in result.stderr


def test_a_fifo_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w") as handle:
            handle.write((LOGS / "incident-seed.txt").read_text())

    writer = threading.Thread(target=write)
    writer.start()
    result = litefix("explain", fifo)
    writer.join(30)
    assert result.code == 1 and "release-read-lock-seq-missing" in result.out


def test_an_overlong_line_is_cut_and_the_next_line_still_explained(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"x" * (3 * MAX_LINE + 17) + b"\n" + (LOGS / "incident-seed.txt").read_bytes())
    result = litefix("explain", "--json", log)
    doc = result.json()
    assert [g["id"] for g in doc["known"]] == ["release-read-lock-seq-missing"]
    [unknown] = doc["unknown"]
    assert len(unknown["example"]) <= MAX_LINE


def test_unknown_shapes_are_capped_and_the_rest_counted() -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    lines = (
        f"app said {words[i % 8]} {words[i // 8 % 8]} {words[i // 64 % 8]} {words[i // 512 % 8]}" for i in range(4096)
    )
    explanation = explain(lines)
    assert len(explanation.unknown) == MAX_UNKNOWN_KINDS
    assert explanation.unknown_overflow == 4096 - MAX_UNKNOWN_KINDS


def test_help_does_not_load_the_catalogue() -> None:
    code = "import sys, litefix.cli; assert 'litefix.explain.catalogue' not in sys.modules, 'loaded'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_log_of_all_different_error_lines_stays_in_bounded_memory() -> None:
    """50,000 error lines that share no shape (unique words, not just numbers): caches and groups are capped."""
    producer = (
        "import random, string\n"
        "rng = random.Random(1)\n"
        "for i in range(50_000):\n"
        "    word = ''.join(rng.choice(string.ascii_letters) for _ in range(12))\n"
        "    print(f'time=2026-01-01T00:00:00Z level=ERROR msg=\"{word} failed\" '\n"
        "          f'db=/d/{word}.db error=\"{word}: boom\"')\n"
    )
    source = subprocess.Popen([sys.executable, "-c", producer], stdout=subprocess.PIPE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "litefix", "explain", "--json", "-"],
        stdin=source.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert source.stdout is not None
    source.stdout.close()
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()  # stderr stays tiny: one line at most
    _, status, usage = os.wait4(proc.pid, 0)  # this process's own peak RSS, not the test worker's
    err = proc.stderr.read()
    source.wait(10)
    assert os.waitstatus_to_exitcode(status) == 1, err
    doc = json.loads(out)
    assert doc["records"] == 50_000 and doc["error_lines"] == 50_000
    assert len(doc["unknown"]) == MAX_UNKNOWN_KINDS and doc["unknown_overflow"] == 50_000 - MAX_UNKNOWN_KINDS
    assert usage.ru_maxrss / 1024 < 250, f"peak RSS {usage.ru_maxrss / 1024:.0f} MB"


def test_an_sdk_v1_access_denied_names_the_action_from_the_operation_that_failed() -> None:
    lookup = explain(
        '2024/03/21 06:42:23 ERROR failed to run error="cannot fetch generations: cannot lookup bucket region: '
        'AccessDenied: Access Denied"'
    )
    [group] = lookup.known
    assert group.details == ("action: s3:GetBucketLocation (from `cannot lookup bucket region: %w`)",)
    assert group.operation.startswith("failed to run (cmd/litestream/main.go:main) ← cannot fetch generations")
    upload = explain(ACCESS_DENIED_V1)
    assert upload.known[0].details[0].startswith("action: s3:PutObject")


def test_lines_split_across_blocks_and_multibyte_characters_survive(tmp_path: Path) -> None:
    """Tiny blocks force every split: a UTF-8 character across two reads, a line across many."""
    from litefix.explain.logfmt import read_blocks

    text = "première ligne é\n" + "x" * 50 + "\n\ndernière—ligne sans fin"
    log = tmp_path / "split.log"
    log.write_text(text, encoding="utf-8")
    with open(log, "rb") as handle:
        lines = [line for block in read_blocks(handle, str(log), block=7) for line in block]
    assert lines == text.split("\n")


def test_an_overlong_line_across_blocks_is_cut_once(tmp_path: Path) -> None:
    from litefix.explain.logfmt import read_blocks

    log = tmp_path / "long.log"
    log.write_bytes(b"a" * (MAX_LINE + 5000) + b"\nnext\n")
    with open(log, "rb") as handle:
        lines = [line for block in read_blocks(handle, str(log), block=4096) for line in block]
    assert lines == ["a" * MAX_LINE, "next"]
