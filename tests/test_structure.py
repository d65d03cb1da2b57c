"""The shape of the code, held by tests: one policy table, order-free inspectors, layers that import downwards.

These are the promises of the restructure (issue: one room per concern). Each test reads like the
bug it prevents: a policy that disagreed between `auto`, `check --fix` and the README; a diagnosis
that changed with the order of its inspectors; a `meta-path:` that turned an error into a warning.
"""

from __future__ import annotations

import ast
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from litefix.codes import CODES, Auto
from litefix.model import Strategy
from litefix.repair.policy import Decision, choose, narrowed_rules, unattended
from tests.litestream_harness import VERSIONS, Deployment, config_text

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "litefix"


# --- one policy table ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_policy_is_consistent_with_its_strategies(code: str) -> None:
    """What auto runs for a code is one of the strategies the table says fix it."""
    c = CODES[code]
    if c.auto is Auto.RESTORE:
        assert Strategy.RESTORE in c.strategies, code
    if c.auto is Auto.INIT:
        assert Strategy.INIT in c.strategies, code
    if c.auto is Auto.LIVE_FILE:
        assert {Strategy.INIT, Strategy.RESTORE} <= set(c.strategies), code
    if c.unattended:
        assert c.auto in (Auto.RESTORE, Auto.INIT), f"{code}: unattended needs a strategy auto can run"


@pytest.mark.parametrize("code", sorted(CODES))
def test_auto_alone_does_what_the_table_says(code: str) -> None:
    """One code, a replica with data, a sound live file: auto's decision is the table's column."""
    decision = choose({code}, has_replica=True, live_file_sound=lambda: True)
    expected = {
        Auto.RESTORE: Decision(Strategy.RESTORE, decision.why),
        Auto.INIT: Decision(Strategy.INIT, decision.why),
        Auto.LIVE_FILE: Decision(Strategy.INIT, decision.why),
        Auto.ASK: Decision.refuse(decision.why),
        Auto.BLOCK: Decision.refuse(decision.why),
        Auto.NOTHING: Decision(None, decision.why),
    }[CODES[code].auto]
    assert decision == expected
    assert code in decision.why or decision.strategy is None


def test_a_blocker_wins_over_any_repair() -> None:
    decision = choose({"litestream-duplicate", "database-missing"}, True, lambda: True)
    assert decision.refused and "litestream-duplicate" in decision.why


def test_a_damaged_live_file_under_a_replaced_litestream_is_restored_not_initialised() -> None:
    assert choose({"litestream-replaced"}, True, lambda: False).strategy is Strategy.RESTORE
    assert choose({"litestream-replaced"}, False, lambda: False).refused


def test_a_replaced_database_whose_path_holds_the_older_copy_is_restored_never_initialised() -> None:
    """The finding's evidence narrows its code's repairs to restore: auto must not pick init from the stale
    file at the path, even when it passes quick_check, and even beside another code that would."""
    older = CODES["litestream-replaced"].finding(
        "the file at the path is an older copy", strategies=(Strategy.RESTORE,)
    )
    rules = narrowed_rules([older])
    assert rules == {"litestream-replaced": Auto.RESTORE}
    sound = choose({"litestream-replaced"}, True, lambda: True, rules)
    assert sound.strategy is Strategy.RESTORE and "the replica, not the file at the path" in sound.why
    beside = choose({"litestream-replaced", "litestream-tables-missing"}, True, lambda: True, rules)
    assert CODES["litestream-tables-missing"].auto is Auto.INIT and beside.strategy is Strategy.RESTORE
    assert choose({"litestream-replaced"}, False, lambda: True, rules).refused
    unnarrowed = CODES["litestream-replaced"].finding("the file at the path is a new database")
    assert narrowed_rules([unnarrowed]) == {}
    assert narrowed_rules([unnarrowed, older]) == {"litestream-replaced": Auto.RESTORE}  # restore wins


def test_a_missing_database_with_no_replica_is_a_first_deploy_not_a_refusal() -> None:
    decision = choose({"database-missing"}, has_replica=False, live_file_sound=lambda: False)
    assert decision == Decision(None, decision.why) and "first deploy" in decision.why


def test_check_fix_runs_only_what_every_failing_code_allows() -> None:
    restore = choose({"database-missing", "wal-corrupt"}, True, lambda: True)
    assert unattended({"database-missing", "wal-corrupt"}, restore)  # the -wal is a leftover of a gone file
    corrupt = choose({"wal-corrupt"}, True, lambda: True)
    assert corrupt.strategy is Strategy.RESTORE
    assert not unattended({"wal-corrupt"}, corrupt)  # with the database there, a human decides
    init = choose({"litestream-tables-missing", "litestream-state-mismatch"}, True, lambda: True)
    assert unattended({"litestream-tables-missing", "litestream-state-mismatch"}, init)
    assert not unattended({"replica-gap"}, choose({"replica-gap"}, True, lambda: True))


def test_the_readme_table_shows_the_policy_columns_of_the_code() -> None:
    readme = (ROOT / "README.md").read_text()
    for c in CODES.values():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{c.code}` |"))
        assert f"| {c.auto.value} |" in row, row


# --- layers that import downwards --------------------------------------------------------------------


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        yield ".".join(parts), path


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The litefix modules `path` imports (every `from litefix.x import y` counted as x and x.y when y is a
    module); `top_level_only` leaves out imports inside functions and `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text())
    nodes: list[ast.AST] = []
    if top_level_only:
        nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    else:
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    found: set[str] = set()
    known = {name for name, _ in _modules()}
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("litefix"):
            if node.module != "litefix":  # `from litefix import _native` imports the module, not the package
                found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("litefix")}
    return found


def test_formats_import_nothing_else_of_litefix() -> None:
    """formats/ turns bytes into facts; it must stay importable and testable on its own."""
    for name, path in _modules():
        if name.startswith("litefix.formats"):
            others = {m for m in _imports(path) if not m.startswith(("litefix.formats", "litefix._native"))}
            assert not others, f"{name} imports {others}"


def test_only_the_cli_boot_and_demo_render() -> None:
    allowed = {"litefix.gate.boot", "litefix.demo"}
    for name, path in _modules():
        if name.startswith(("litefix.render", "litefix.cli")) or name in allowed:
            continue
        rendering = {m for m in _imports(path) if m.startswith("litefix.render")}
        assert not rendering, f"{name} imports {rendering}: only the CLI (and boot, the demo) print"


def test_nothing_below_the_cli_knows_about_typer() -> None:
    for name, path in _modules():
        if not name.startswith("litefix.cli"):
            tree = ast.parse(path.read_text())
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
            assert not {"typer", "click"} & names, name


def test_no_inspector_reads_another_inspectors_private_names() -> None:
    for name, path in _modules():
        if not name.startswith("litefix.diagnose.inspectors."):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("litefix.diagnose.inspectors."):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{name} imports {private} from {node.module}"


def test_no_import_cycles_at_import_time() -> None:
    graph = {name: set() for name, _ in _modules()}
    for name, path in _modules():
        parts = name.split(".")
        own_packages = {".".join(parts[:i]) for i in range(1, len(parts))}  # already importing when we run
        for target in _imports(path, top_level_only=True):
            target_parts = target.split(".")
            # importing a.b.c runs a and a.b first (except the packages this module is itself inside)
            ancestors = {".".join(target_parts[:i]) for i in range(2, len(target_parts) + 1)}
            graph[name] |= (ancestors - own_packages) & set(graph)
    for node, targets in graph.items():
        targets.discard(node)
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join([*visiting[visiting.index(node) :], node])
        visiting.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


# --- one diagnosis, whatever the order ---------------------------------------------------------------


def _tables_dropped_after_litestream_initialised(root: Path, version: str, meta_path: bool) -> Path:
    """Litestream initialised the database (its meta dir exists), then stopped; a schema load dropped its
    tables. With `meta-path:` the meta dir is not beside the database."""
    from tests.litestream_harness import wait_for

    root.mkdir(parents=True, exist_ok=True)
    dep = Deployment(root, version, ("app.db",))
    meta = root / "state" / "app-meta"
    extra = f"    meta-path: {meta}" if meta_path else ""
    (root / "litestream.yml").write_text(config_text(version, [(dep.db(), dep.replica())], extra_db=extra))
    con = sqlite3.connect(dep.db())
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    rep = dep.replicate(root / "litestream.yml")
    try:
        rep.wait_for_log(r"initialized db", 20)
        expected_meta = meta if meta_path else root / ".app.db-litestream"
        wait_for(expected_meta.is_dir, 20, f"Litestream's meta dir {expected_meta}")
    finally:
        rep.stop()
    con = sqlite3.connect(dep.db())
    con.execute("DROP TABLE _litestream_seq")
    con.execute("DROP TABLE _litestream_lock")
    con.commit()
    con.close()
    return dep.db()


@pytest.mark.litestream
@pytest.mark.parametrize("version", VERSIONS)
def test_tables_dropped_with_a_meta_path_are_the_same_error_as_with_the_default_path(
    tmp_path: Path, version: str
) -> None:
    """Before the context was typed, `meta-path:` made this a warning ("not initialised yet")."""
    from litefix.config import load_config
    from litefix.diagnose.context import Options
    from litefix.diagnose.runner import diagnose

    severities = {}
    for meta_path in (False, True):
        db = _tables_dropped_after_litestream_initialised(tmp_path / str(meta_path), version, meta_path)
        cfg = str(db.parent / "litestream.yml")
        diagnosis = diagnose(db, Options(config=cfg, loaded_config=load_config(cfg)))
        [finding] = [f for f in diagnosis.findings if f.code == "litestream-tables-missing"]
        severities[meta_path] = finding.severity.value
        assert finding.evidence["meta_dir"], finding
    assert severities == {False: "error", True: "error"}


@pytest.mark.litestream
def test_inspectors_in_any_order_find_the_same(tmp_path: Path) -> None:
    """Each inspector reads what it shares from the context: shuffle them, get the same findings."""
    from litefix.config import load_config
    from litefix.diagnose.context import Context, Options
    from litefix.diagnose.inspectors import registry
    from litefix.diagnose.runner import diagnose_in

    db = _tables_dropped_after_litestream_initialised(tmp_path, "0.5.17", meta_path=True)
    cfg = str(db.parent / "litestream.yml")
    options = Options(config=cfg, loaded_config=load_config(cfg), compare=True)

    def found(order: list[str]) -> list[tuple[str, str]]:
        inspectors = registry()
        diagnosis = diagnose_in(Context(db, options), {name: inspectors[name] for name in order})
        return sorted((f.code, f.severity.value) for f in diagnosis.findings)

    names = list(registry())
    expected = found(names)
    assert ("litestream-tables-missing", "error") in expected
    rng = random.Random(7)
    for _ in range(5):
        order = names[:]
        rng.shuffle(order)
        assert found(order) == expected, order
    assert found(list(reversed(names))) == expected
