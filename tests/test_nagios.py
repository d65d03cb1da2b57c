"""`--format nagios`: the plugin guidelines' status line, performance data and exit codes 0/1/2/3.

Run as Nagios and Icinga run a plugin: a real process, stdout read, the exit code is the state.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from litefix.model import Diagnosis, Finding, InspectorRun, RunStatus, Severity
from litefix.render.nagios import Perf, nagios_diagnosis, status_line
from tests.helpers import litefix

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)

# 'label'=value[UOM];[warn];[crit];[min];[max] (nagios-plugins.org/doc/guidelines.html#AEN200)
PERF_ITEM = re.compile(r"^('[^'=]+'|[^'= ]+)=-?[0-9.]+(s|us|ms|%|B|KB|MB|TB|c)?(;-?[0-9.]*){0,4}$")
STATUS = re.compile(r"^LITEFIX (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+(\|.*)?$")


def parse(out: str) -> tuple[str, list[str]]:
    first = out.splitlines()[0]
    assert STATUS.match(first), first
    state = first.split()[1]
    perf = first.split("|", 1)[1].split() if "|" in first else []
    for item in perf:
        assert PERF_ITEM.match(item), item
    return state, perf


def test_diagnose_healthy_ok_with_wal_bytes(state: Callable[[str], Path]) -> None:
    result = litefix("diagnose", state("healthy-uncheckpointed"), "--format", "nagios")
    assert result.code == 0, result.out + result.err
    got, perf = parse(result.out)
    assert got == "OK" and result.err == ""
    wal = next(p for p in perf if p.startswith("wal_bytes="))
    assert int(wal.split("=")[1].split("B")[0]) > 0


@pytest.mark.parametrize(
    ("name", "expected", "code"),
    [
        ("healthy", "OK", 0),
        ("wal-torn-tail", "WARNING", 1),
        ("incident", "CRITICAL", 2),
        ("old-sqlite-writer", "OK", 0),
    ],
)
def test_diagnose_maps_severity_to_state_and_exit_code(
    state: Callable[[str], Path], name: str, expected: str, code: int
) -> None:
    result = litefix("diagnose", state(name), "--format", "nagios")
    got, perf = parse(result.out)
    assert (got, result.code) == (expected, code), result.out
    assert any(p.startswith("errors=") for p in perf)
    if expected == "CRITICAL":
        assert "wal-mismatch" in result.out.splitlines()[0]
        assert len(result.out.splitlines()) >= 3  # one detail line per finding after the status line


def test_a_bad_config_is_unknown_exit_3_not_litefix_usage_error_2(state: Callable[[str], Path], tmp_path: Path) -> None:
    bad = tmp_path / "litestream.yml"
    bad.write_text("dbs: [\n")
    db = state("healthy")
    result = litefix("diagnose", db, "--config", bad, "--format", "nagios")
    assert result.code == 3
    assert result.out.startswith("LITEFIX UNKNOWN - ")
    plain = litefix("diagnose", db, "--config", bad)
    assert plain.code == 2  # litefix's own codes are unchanged without --format nagios


def test_a_usage_error_under_nagios_is_unknown() -> None:
    result = litefix("diagnose", "--format", "nagios", "--no-such-option")
    assert result.code == 3 and result.out.startswith("LITEFIX UNKNOWN - usage error")


def test_check_over_a_config_reports_every_database_in_one_line(tmp_path: Path) -> None:
    import sqlite3

    dbs = []
    for name in ("a.db", "b.db"):
        db = tmp_path / name
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE t (x)")
        con.close()
        dbs.append(db)
    config = tmp_path / "litestream.yml"
    config.write_text(
        "dbs:\n"
        + "".join(f"  - path: {db}\n    replica: {{type: file, path: {tmp_path / 'r' / db.name}}}\n" for db in dbs)
    )
    result = litefix("check", "--config", config, "--format", "nagios")
    got, perf = parse(result.out)
    # Before Litestream ever ran: a first deploy (warnings, notes), never OK-with-errors.
    assert got in {"OK", "WARNING"} and result.code == {"OK": 0, "WARNING": 1}[got], result.out
    assert {p.split("=")[0] for p in perf} >= {"a.db_wal_bytes", "b.db_wal_bytes", "a.db_errors", "b.db_errors"}
    assert result.err == ""


def test_an_inspector_that_could_not_read_is_unknown_unless_something_is_worse() -> None:
    failed = InspectorRun("replica", RunStatus.FAILED, reason="permission denied")
    alone = Diagnosis("/d/app.db", (), (failed,))
    assert nagios_diagnosis(alone, 60)[1] == 3
    error = Finding("wal-corrupt", Severity.ERROR, "bad magic")
    assert nagios_diagnosis(Diagnosis("/d/app.db", (error,), (failed,)), 60)[1] == 2


def test_perf_data_and_status_text_never_carry_a_pipe() -> None:
    assert str(Perf("lag_seconds", 1.5, "s", 60, None, 0)) == "lag_seconds=1.5s;60;;0"
    assert str(Perf("my db", 3)) == "'my db'=3"
    text = status_line(0, "a|b", [Perf("x", 1)], ["c|d"])
    assert text == "LITEFIX OK - a/b|x=1\nc/d"


def test_a_replica_further_behind_than_critical_lag_is_critical_with_both_thresholds() -> None:
    behind = Finding("replica-behind", Severity.WARNING, "behind", {"lag_seconds": 400.0})
    diagnosis = Diagnosis("/d/app.db", (behind,), (InspectorRun("replica", RunStatus.OK),))
    text, code = nagios_diagnosis(diagnosis, 60, critical_lag=300)
    assert code == 2 and text.startswith("LITEFIX CRITICAL - /d/app.db: the replica is 400s behind")
    assert "lag_seconds=400s;60;300;0" in text.splitlines()[0]
    assert nagios_diagnosis(diagnosis, 60)[1] == 1  # without --critical-lag: the finding's own severity
