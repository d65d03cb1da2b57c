"""`litefix explain`: what the log lines users paste mean, checked against real Litestream output.

Every file in tests/logs/ was printed by the real 0.3.13 or 0.5.17 binary while
tests/logs/capture.py replayed a scenario of the notes (the file name says which); the
incident's seed line is there verbatim, wrapped as it was pasted. The library is called
directly where only the classification matters; the CLI runs as a real process where exit
codes, stdin and error messages are the point.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from litefix.explain import BY_ID, SIGNATURES, Explanation, explain, parse
from litefix.render.explain import explanation_text
from tests.helpers import ROOT, Result, litefix

LOGS = ROOT / "tests" / "logs"
SEED = LOGS / "incident-seed.txt"


@functools.cache
def explained(name: str) -> Explanation:
    return explain((LOGS / name).read_text())


def problems(explanation: Explanation) -> set[str]:
    """The signatures found, minus the routine lines every log has."""
    return set(explanation.ids()) - {"routine"}


def litefix_stdin(*args: str, data: bytes) -> Result:
    """`python -m litefix ARGS` with `data` on stdin, the way `docker logs … | litefix explain -` runs."""
    proc = subprocess.run(
        [sys.executable, "-m", "litefix", *args], input=data, capture_output=True, timeout=60, check=False
    )
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.out + result.err, result.err


# --- the incident -------------------------------------------------------------------------------


def test_the_incident_line_means_the_file_was_replaced_under_a_running_litestream() -> None:
    result = litefix("explain", SEED, "--json")
    assert result.code == 1, result.err  # a known error signature
    doc = result.json()
    assert doc["lines"] == 2 and doc["records"] == 1  # the paste wrapped the line; it is one entry
    [group] = doc["known"]
    assert group["id"] == "release-read-lock-seq-missing"
    assert group["severity"] == "error"
    assert "the database file was replaced or recreated under a running litestream" in group["meaning"].lower()
    assert "misnomer" in group["meaning"] and "re-acquiring the read lock" in group["meaning"]
    assert group["fix"].lower().startswith("stop litestream, put the right file in place (or restore it), restart it")
    assert group["versions"] == ["0.3.13"]
    assert group["dbs"] == ["/tmp/production_cable.sqlite3"]
    assert group["command"] == "litefix diagnose /tmp/production_cable.sqlite3"
    assert {"litestream-replaced", "litestream-tables-missing"} <= set(group["codes"])
    assert doc["unknown"] == []


def test_the_incident_line_reads_the_same_as_text_and_unwrapped() -> None:
    text = litefix("explain", SEED)
    assert text.code == 1
    assert "release-read-lock-seq-missing ×1" in text.out
    assert "Stop Litestream, put the right file in place" in text.out
    one_line = " ".join(SEED.read_text().split("\n")).strip()
    assert explain(one_line).ids() == ["release-read-lock-seq-missing"]


def test_the_05_form_of_the_incident_is_a_dropped_table_and_one_line_hides_recurrences() -> None:
    explanation = explained("v05-seq-dropped.log")
    assert problems(explanation) == {"reacquire-read-lock-seq-missing", "sync-recovered"}
    error, recovered = explanation.group("reacquire-read-lock-seq-missing"), explanation.group("sync-recovered")
    assert error is not None and recovered is not None
    assert error.count == 1 and recovered.count == 4  # the fault recurred; 0.5 printed it once
    assert error.signature is not None and recovered.signature is not None
    assert "at most once per 30 s" in error.signature.meaning
    assert "does NOT mean the cause is gone" in recovered.signature.meaning


# --- every captured log maps to its signatures ----------------------------------------------------

EXPECTED: dict[str, set[str]] = {
    "incident-seed.txt": {"release-read-lock-seq-missing"},
    # S1: a migration created the file, then replicate started: Litestream initialises it.
    "v03-init.log": {"generation-started"},
    "v05-init.log": set(),
    # S2 rename: mv new.db db under a running replicate, app writing at once.
    "v03-rename-over.log": {
        "release-read-lock-seq-missing",
        "seq-table-missing",
        "ensure-wal-seq-missing",
        "generation-reset-by-other-process",
        "generation-started",
    },
    "v05-rename-over.log": {"wal-vanished"},
    "v05-rename-over-app.txt": set(),  # the app's own error: unknown to litefix
    # S2 rename after a checkpoint: the app's last connection deleted the shared -wal.
    "v03-rename-over-after-checkpoint.log": {"wal-vanished", "generation-started"},
    "v05-rename-over-after-checkpoint.log": {"lock-table-missing", "wal-vanished"},
    # S2 purge: Rails db:drop + create under a running replicate.
    "v03-purge.log": {"wal-vanished", "generation-reset-by-other-process", "generation-started"},
    "v05-purge.log": {"wal-vanished", "sync-recovered"},
    "v03-purge-app-holds-empty-wal.log": {"wal-vanished", "shadow-wal-empty", "generation-started"},
    "v03-malformed.log": {"wal-vanished", "generation-reset-by-other-process", "generation-started"},
    "v03-malformed-restore.txt": {"database-malformed"},
    # S5: Litestream's tables dropped in place.
    "v03-seq-dropped.log": {"release-read-lock-seq-missing", "generation-started"},
    "v05-seq-dropped.log": {"reacquire-read-lock-seq-missing", "sync-recovered"},
    "v03-lock-dropped.log": {"lock-table-missing", "generation-started"},
    "v05-lock-dropped.log": {"lock-table-missing"},
    # S6/S7: restarts after the WAL changed behind Litestream's back.
    "v03-restart-after-kill.log": {"generation-cleared-at-start", "generation-started"},
    "v05-restart-after-kill.log": set(),
    "v03-restart-after-journal-delete.log": {"generation-cleared-at-start", "generation-started"},
    # S7: two replicate processes, the app's own TRUNCATE checkpoints, a deleted replica.
    "v03-two-replicators.log": {"duplicate-replicator", "shutdown-during-checkpoint", "generation-started"},
    "v05-two-replicators.log": {"duplicate-replicator", "sync-recovered"},
    "v03-app-truncate.log": {"database-locked", "generation-started"},
    "v03-replica-gone.log": {"generation-started"},  # silent: the damage shows only at restore
    "v05-replica-gone.log": set(),
    "v03-restore-replica-gone.txt": {"no-snapshots-available"},
    "v05-restore-replica-gone.txt": {"no-backups"},
    # S3/S4 restores in entrypoints.
    "v03-restore-exists.txt": {"restore-output-exists"},
    "v05-restore-exists.txt": {"restore-output-exists"},
    "v03-restore-if-db-not-exists.txt": {"restore-skipped"},
    "v05-restore-if-db-not-exists.txt": {"restore-skipped"},
    "v03-restore-no-backups.txt": {"no-backups"},
    "v05-restore-no-backups.txt": {"no-backups"},
    "v03-restore-if-replica-exists.txt": {"no-backups-skipped"},
    "v05-restore-if-replica-exists.txt": {"no-backups-skipped"},
    "v03-restore-not-in-config.txt": {"database-not-in-config"},
    "v05-restore-not-in-config.txt": {"database-not-in-config"},
    "v05-restore-then-replicate.log": {"database-behind-replica"},
    # Damaged replicas.
    "v03-restore-missing-segment.txt": {"missing-initial-wal-segment"},
    "v05-restore-ltx-gap.txt": {"non-contiguous-ltx"},
    # Environment and supervision.
    "v05-aws-ca-bundle.log": {"aws-ca-bundle"},
    "v05-restore-aws-ca-bundle.txt": {"aws-ca-bundle"},
    "v03-exec-exit.log": {"exec-exit-status", "generation-started"},
    "v05-exec-exit.log": {"exec-exit-status"},
    # Slips between releases: a config path as the database, the other release's flags and commands.
    "v03-config-as-db.log": {"not-a-database"},
    "v05-config-as-db.log": {"not-a-database"},
    "v03-other-release-cli.txt": {"flag-not-defined", "unknown-command"},
    "v05-other-release-cli.txt": {"flag-not-defined", "unknown-command"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_captured_log_maps_to_its_signatures(name: str) -> None:
    explanation = explained(name)
    assert problems(explanation) == EXPECTED[name]
    if name.endswith("-app.txt"):
        assert explanation.unknown, "the app's own errors are not Litestream signatures"
    else:
        assert not explanation.unknown, [g.example for g in explanation.unknown]


def test_every_captured_log_has_an_expectation() -> None:
    on_disk = {p.name for p in LOGS.iterdir() if p.suffix in (".log", ".txt")}
    assert on_disk == set(EXPECTED)


def test_every_signature_is_backed_by_a_captured_log_an_upstream_thread_or_marked_reported() -> None:
    for signature in (*SIGNATURES, BY_ID["routine"]):
        if all("(reported)" in v for v in signature.versions):
            continue
        if signature.upstream:
            assert signature.upstream.startswith("https://github.com/"), signature.id
            continue
        assert signature.captured, f"{signature.id}: no captured log, no upstream thread, not marked (reported)"
        for name in signature.captured:
            assert signature.id in explained(name).ids(), f"{signature.id} not found in {name}"


def test_signature_ids_are_unique_kebab_case_and_explained() -> None:
    ids = [s.id for s in SIGNATURES]
    assert len(ids) == len(set(ids))
    for signature in SIGNATURES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", signature.id)
        assert signature.title and signature.meaning and signature.versions
        assert signature.cause and signature.fix, f"{signature.id}: a known line must say why and what to do"


def test_a_version_specific_line_says_which_version() -> None:
    assert BY_ID["release-read-lock-seq-missing"].versions == ("0.3.13",)
    assert BY_ID["reacquire-read-lock-seq-missing"].versions == ("0.5.17",)
    assert BY_ID["aws-ca-bundle"].versions == ("0.5.17",)
    assert "0.3.13 is not affected" in BY_ID["aws-ca-bundle"].cause
    assert "exits 1 whatever" in BY_ID["exec-exit-status"].meaning
    assert any("(reported)" in v for v in BY_ID["database-locked"].versions)


# --- grouping and order --------------------------------------------------------------------------


def test_repeats_of_one_error_are_one_group_with_first_and_last_time() -> None:
    text = (LOGS / "v03-rename-over.log").read_text()
    matching = [line for line in text.splitlines() if "release read lock: no such table" in line]
    group = explain(text).group("release-read-lock-seq-missing")
    assert group is not None
    assert group.count == len(matching) > 10
    assert group.first_time == re.search(r"time=(\S+)", matching[0]).group(1)  # type: ignore[union-attr]
    assert group.last_time == re.search(r"time=(\S+)", matching[-1]).group(1)  # type: ignore[union-attr]
    assert group.dbs == ("/tmp/litefix-logs/v03-rename-over/production_cable.sqlite3",)
    assert group.example == matching[0]


def test_known_signatures_come_worst_first_then_in_order_of_appearance() -> None:
    explanation = explained("v03-rename-over.log")
    ranks = [g.signature.severity.rank for g in explanation.known if g.signature]
    assert ranks == sorted(ranks, reverse=True)
    errors = [g for g in explanation.known if g.signature and g.signature.severity.value == "error"]
    assert [g.first_line for g in errors] == sorted(g.first_line for g in errors)
    assert explanation.known[0].key == "release-read-lock-seq-missing"


def test_unknown_lines_are_listed_and_grouped_without_their_numbers() -> None:
    pasted = "\n".join(
        [
            "2026-11-26T10:00:01Z Puma starting in single mode... pid 4242",
            "2026-11-26T10:05:09Z Puma starting in single mode... pid 5151",
            'level=ERROR msg="sync error" db=/data/app.db error="something litefix has never seen"',
        ]
    )
    explanation = explain(pasted)
    assert explanation.known == ()
    [puma] = explanation.unknown
    assert puma.count == 2
    assert puma.key == "<time> Puma starting in single mode... pid N"
    assert (puma.first_time, puma.last_time) == ("2026-11-26T10:00:01Z", "2026-11-26T10:05:09Z")
    # "sync error" is a message Litestream logs: catalogued (what failed, which releases), not curated.
    [sync] = explanation.catalogued
    assert sync.dbs == ("/data/app.db",) and sync.level == "ERROR"
    assert "DB.monitor" in sync.operation and "0.3.12" in sync.releases
    assert explanation.has_errors  # an ERROR line nobody explained still fails the pipeline


# --- parsing what people actually paste ------------------------------------------------------------

REAL_LINE = (
    'time=2026-11-26T21:58:55.747Z level=ERROR msg="sync error" db=/data/production_cable.sqlite3 '
    'error="checkpoint: mode=PASSIVE err=release read lock: no such table: _litestream_seq"'
)


@pytest.mark.parametrize(
    "prefix",
    [
        "litestream-1  | ",  # docker compose
        "2026-11-26T21:58:55.747812345Z ",  # docker logs -t, kamal app logs
        "2026-11-26T21:58:55Z app[1781973f5d1e89] ams [info]",  # fly logs
        "Nov 26 21:58:55 web-1 litestream[4242]: ",  # journald
        "app-web-9f8e7d6c 2026-11-26T21:58:55.747812345Z ",  # kamal with the container name
    ],
)
def test_a_log_shippers_prefix_does_not_hide_the_line(prefix: str) -> None:
    [record] = parse(prefix + REAL_LINE)[1]
    assert (record.level, record.msg, record.db) == ("ERROR", "sync error", "/data/production_cable.sqlite3")
    assert record.time == "2026-11-26T21:58:55.747Z"
    assert explain(prefix + REAL_LINE).ids() == ["release-read-lock-seq-missing"]


def test_a_prefix_timestamp_stands_in_when_the_line_has_none() -> None:
    [record] = parse("2026-11-26T21:58:55Z app[1781] ams [info]" + REAL_LINE.split(" ", 1)[1])[1]
    assert record.time == "2026-11-26T21:58:55Z"


def test_quoted_values_keep_escaped_quotes_and_the_first_level_wins() -> None:
    [record] = parse(
        r'level=ERROR msg="sync error" db=/tmp/a.db error="open \"/tmp/a.db-wal\": database is locked\tnow"'
    )[1]
    assert record.error == 'open "/tmp/a.db-wal": database is locked\tnow'
    assert explain(record.raw).ids() == ["database-locked"]
    version = explain("time=2026-11-26T21:51:32Z level=INFO msg=litestream version=0.5.17 level=info")
    assert version.litestream_versions == ("0.5.17",)
    assert version.known[0].key == "routine"


@pytest.mark.parametrize(
    ("line", "signature", "db"),
    [
        (
            "Error: cannot restore, output path already exists and is not empty: /data/app.db. Use -force to overwrite",
            "restore-output-exists",
            "/data/app.db",
        ),
        ("cannot restore, output path already exists: /data/app.db", "restore-output-exists", "/data/app.db"),
        ("no matching backups found", "no-backups", None),
        ("Error: no matching backup files available", "no-backups", None),
        ("web-1 | Error: exit status 7", "exec-exit-status", None),
    ],
)
def test_plain_text_lines_are_recognised(line: str, signature: str, db: str | None) -> None:
    explanation = explain(line)
    assert explanation.ids() == [signature]
    assert explanation.known[0].dbs == ((db,) if db else ())


def test_a_purge_inside_a_05_checkpoint_reads_as_the_vanished_wal() -> None:
    """Seen in the suite under load: the purge fell while 0.5.17 was checkpointing, so its one sync
    error (the next is held back for 30 s) names the checkpoint, not `cannot verify wal state`."""
    line = (
        'time=2026-12-01T14:45:41.972Z level=ERROR msg="sync error" system=store db=production_cable.sqlite3 '
        'error="checkpoint: open /tmp/purgebt_2_2/test_a_corrupt_replica_after_a0/production_cable.sqlite3-wal: '
        'no such file or directory" consecutive_errors=1 backoff=100ms'
    )
    explanation = explain(line)
    assert explanation.ids() == ["wal-vanished"] and not explanation.unknown
    deeper = (  # the same, a step further into the checkpoint (also seen under load)
        'time=2026-12-01T16:32:11.446Z level=ERROR msg="sync error" system=store db=production_cable.sqlite3 '
        'error="checkpoint: cannot copy wal after passive checkpoint: cannot verify wal state: detect full '
        "checkpoint: open wal file: open /tmp/pytest-of-root/pytest-374/popen-gw1/test_replica_of_a_purged_datab1/"
        'production_cable.sqlite3-wal: no such file or directory" consecutive_errors=1 backoff=100ms'
    )
    assert explain(deeper).ids() == ["wal-vanished"]


def test_a_line_of_pairs_after_a_record_continues_it_but_other_lines_do_not() -> None:
    lines, records = parse('level=INFO msg="write snapshot" db=/x.db\nerror="late"\nsomething else=1 entirely\n\n')
    assert lines == 3
    assert [r.line for r in records] == [1, 3]
    assert records[0].error == "late"


def test_garbage_never_crashes_the_parser() -> None:
    rng = random.Random(7)
    alphabet = ['"', "\\", "=", " ", "|", "level", "msg", "time", "error", "x", "\x00", "\t", "é", "\ufffd", "\n"]
    for _ in range(2000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        explain(line)
    explain('msg="unterminated \\')
    explain("level= msg= error=")
    explain("=" * 100_000)


# --- the command line ---------------------------------------------------------------------------


def test_dash_reads_stdin_and_so_does_no_argument() -> None:
    data = SEED.read_bytes()
    for args in (("explain", "-"), ("explain",)):
        result = litefix_stdin(*args, data=data)
        assert result.code == 1, result.err
        assert "release-read-lock-seq-missing" in result.out


def test_binary_input_is_listed_as_unknown_not_a_crash() -> None:
    rng = random.Random(3)
    data = bytes(rng.randrange(256) for _ in range(20_000)) + b"\x00\xff\xfe" + b"A" * 50_000
    result = litefix_stdin("explain", data=data)
    no_traceback(result)
    assert result.code == 0, result.err
    assert "UNKNOWN" in result.out


def test_warnings_and_routine_lines_exit_zero_and_errors_exit_one() -> None:
    assert litefix("explain", LOGS / "v03-restart-after-kill.log").code == 0  # a WARN, no error
    result = litefix("explain", LOGS / "v03-init.log")
    assert result.code == 0
    assert "generation-started" in result.out and "error" not in result.out.splitlines()[-1]
    assert explanation_text(explain("\n\n")) == "no log lines to explain (empty input)"


def test_json_document_follows_the_documented_schema() -> None:
    result = litefix("explain", "--json", LOGS / "v03-rename-over.log")
    assert result.code == 1
    doc = result.json()
    assert set(doc) == {
        "lines",
        "records",
        "litestream_versions",
        "versions",
        "version_evidence",
        "version_conflicts",
        "worst",
        "error_lines",
        "known",
        "catalogued",
        "unknown",
        "unknown_overflow",
    }
    assert doc["litestream_versions"] == ["0.3.13"] and doc["worst"] == "error"
    assert doc["versions"] == "0.3.13" and doc["error_lines"] > 0
    keys = {"id", "severity", "title", "meaning", "versions", "cause", "fix", "codes", "command", "count"}
    keys |= {"first_line", "first_time", "last_time", "dbs", "example", "max_consecutive_errors"}
    keys |= {"applies", "fixed_in", "upstream", "operation", "releases", "level", "alternatives", "details", "fixed"}
    for group in doc["known"]:
        assert set(group) == keys
        assert isinstance(group["count"], int) and isinstance(group["dbs"], list)
    assert sum(g["count"] for g in (*doc["known"], *doc["catalogued"], *doc["unknown"])) == doc["records"]
    json.dumps(doc)  # round-trips


def test_an_unreadable_file_is_one_sentence_and_exit_3(tmp_path: Path) -> None:
    missing = litefix("explain", tmp_path / "nope.log")
    no_traceback(missing)
    assert missing.code == 3
    first, *rest = missing.err.splitlines()
    assert first == f"Error: cannot read {tmp_path / 'nope.log'}: no such file or directory"
    assert all(line.startswith("Hint: ") for line in rest)
    directory = litefix("explain", tmp_path)
    assert directory.code == 3 and "is a directory" in directory.err
    if os.geteuid() != 0:  # root reads a mode-000 file anyway
        locked = tmp_path / "locked.log"
        locked.write_text(REAL_LINE)
        locked.chmod(0)
        assert litefix("explain", locked).code == 3


def test_a_usage_error_exits_2() -> None:
    result = litefix("explain", "a.log", "b.log")
    assert result.code == 2
    no_traceback(result)


def test_a_single_0_3_process_racing_itself_at_shutdown_is_not_called_a_second_replicator() -> None:
    """Measured while building `litefix boot`: one 0.3.13 process, stopped right after a write."""
    line = (
        'time=2026-11-26T22:40:01.001Z level=ERROR msg="error closing db" db=/data/app.db error="client write: '
        "stat /data/replica/generations/0123456789abcdef/wal/00000001_00000000.wal.lz4.tmp: no such file or "
        'directory"'
    )
    ids = explain(line).ids()
    assert "shutdown-upload-race" in ids and "duplicate-replicator" not in ids


def test_every_signature_names_codes_that_exist_and_the_health_findings_are_linked() -> None:
    """A log line points at the finding that proves it; a renamed or mistyped code would point nowhere."""
    from litefix.codes import CODES

    for signature in SIGNATURES:
        assert set(signature.codes) <= set(CODES), (signature.id, signature.codes)
    linked = {code for signature in SIGNATURES for code in signature.codes}
    assert {
        "database-locked",
        "checkpoint-blocked",
        "disk-low",
        "meta-dir-growing",
        "litestream-sqlite-too-old",
    } <= linked
