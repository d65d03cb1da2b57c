"""`litefix diagnose` imports only what the command runs.

The issue: `diagnose` of one database with its config took 3x `litefix --help` (0.22 s against
0.075 s on a developer machine), and about 0.15 s of it was imports, some of code the command never
ran: the page readers behind `--compare`, the 0.3 generation reader for a 0.5 replica, the Nagios
renderer for a table, SQLite and OpenSSL for a schema read from pages and a healthy `-wal`.
Each was one top-level import away from coming back. These tests run the real command in a fresh
interpreter on a database Litestream 0.5.17 really replicated, and read `sys.modules` at exit: a
module that appears there was paid for. No wall-clock assertions; the README's benchmark has the
seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.litestream_harness import Deployment, migrate, wait_for

pytestmark = pytest.mark.litestream

DB = "production_cable.sqlite3"

# Runs the CLI exactly as `python -m litefix` does and writes the modules it loaded, whatever the exit.
PROBE = """
import atexit, json, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["litefix", *sys.argv[2:]]
runpy.run_module("litefix", run_name="__main__", alter_sys=True)
"""

# Never loaded by `diagnose --json` of a database with a file replica in the 0.5 format (the text table
# loads tabulate, which loads importlib.metadata and with it tempfile).
NEVER_FOR_DIAGNOSE = (
    "litefix.explain",  # log parsing and its signature catalogue
    "litefix.repair.steps",
    "litefix.repair.executor",
    "litefix.repair.strategies",
    "litefix.monitor",
    "litefix.gate",
    "litefix.demo",
    "litefix.render.repair",
    "litefix.render.nagios",  # only --format nagios
    "litefix.replicas.pages",  # only --compare and --verify-restore read pages
    "litefix.formats.generations",  # the 0.3 layout: this replica and meta dir are 0.5
    "obstore",  # S3, GCS and Azure clients: this replica is a directory
    "concurrent.futures",  # threads read object stores; a directory is read in place
    "tempfile",  # scratch space for object stores and restores
    "apsw",  # SQLite itself: the schema comes from the b-tree pages
    "hashlib",  # OpenSSL: a repair's copies, and a -wal whose chain stops early
)


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A quiet app database that Litestream 0.5.17 replicated to a file replica, then stopped."""
    dep = Deployment(tmp_path_factory.mktemp("startup"), "0.5.17", (DB,))
    dep.write_config()
    migrate(dep.db(), 30)
    rep = dep.replicate()
    rep.wait_for_log(r"snapshot complete", 30)
    wait_for(lambda: list(dep.replica().glob("ltx/0/*.ltx")), 30, "the snapshot's L0 file on the replica")
    rep.stop()
    return dep


def loaded_by(tmp_path: Path, *args: str | Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return set(json.loads(out.read_text())), proc


def under(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def diagnose_args(dep: Deployment, *extra: str) -> list[str | Path]:
    return ["diagnose", dep.db(), "--config", dep.root / "litestream.yml", *extra]


def test_diagnose_of_a_05_file_replica_loads_neither_page_readers_nor_03_nor_object_store_clients(
    replicated: Deployment, tmp_path: Path
) -> None:
    modules, proc = loaded_by(tmp_path, *diagnose_args(replicated, "--json"))
    replica = next(run for run in json.loads(proc.stdout)["inspectors"] if run["name"] == "replica")
    view = replica["facts"]["replicas"][0]
    # The replica inspector really read the LTX files (natively): the modules it needs are there.
    assert (view["format"], view["read_by"]) == ("0.5", "native") and view["ltx_files"] >= 1, proc.stdout
    assert {"litefix.formats.ltx", "litefix.replicas.reader", "litefix.replicas.plan"} <= modules
    loaded = {package: under(modules, package) for package in NEVER_FOR_DIAGNOSE}
    assert {p: found for p, found in loaded.items() if found} == {}
    assert "tabulate" not in modules, "--json prints no table"


def test_diagnose_as_a_table_loads_tabulate_but_not_the_nagios_renderer(replicated: Deployment, tmp_path: Path) -> None:
    modules, proc = loaded_by(tmp_path, *diagnose_args(replicated))
    assert "litestream-not-running" in proc.stdout  # Litestream was stopped: a table of one warning
    assert "tabulate" in modules
    assert under(modules, "litefix.render.nagios") == []


def test_compare_loads_the_page_readers_it_needs(replicated: Deployment, tmp_path: Path) -> None:
    """The counterpart: the import moved into the code that runs, and that code still runs."""
    modules, proc = loaded_by(tmp_path, *diagnose_args(replicated, "--compare", "--json"))
    replica = next(run for run in json.loads(proc.stdout)["inspectors"] if run["name"] == "replica")
    assert replica["facts"]["replicas"][0]["comparison"]["equal"] is True, proc.stdout
    assert "litefix.replicas.pages" in modules


def test_help_loads_no_diagnosis_config_or_sqlite(tmp_path: Path) -> None:
    modules, proc = loaded_by(tmp_path, "--help")
    assert proc.returncode == 0 and "diagnose" in proc.stdout
    heavy = ["litefix.diagnose", "litefix.config", "litefix.formats", "litefix.render", "yaml", "apsw", "tabulate"]
    # errors.py words every OSError with formats/oserror.py (pure, a few lines, no imports of its own)
    modules -= {"litefix.formats", "litefix.formats.oserror"}
    assert {p: under(modules, p) for p in heavy if under(modules, p)} == {}
