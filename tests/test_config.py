"""Reading the user's litestream.yml the way Litestream 0.3.13 and 0.5.17 read it.

The real binaries are the oracle: `litestream databases` says which databases (and replica
types) a config names, `snapshots` (0.3) / `ltx` (0.5) say where a file replica really is
(pointed at a regular file they fail with `open <path>/…: not a directory`), and a tiny HTTP
server on 127.0.0.1 records which bucket and key prefix an s3 replica really lists.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from litefix.config import (
    DEFAULT_CONFIG_PATH,
    LitestreamConfig,
    discover_config,
    expand_env_vars,
    find_config_path,
    litestream_generation,
    load_config,
    locate_config,
    narrowed_yaml,
    parse_go_duration,
    parse_replica_url,
)
from litefix.errors import ConfigError
from tests.helpers import ROOT, as_nobody
from tests.s3server import S3Server

pytestmark = pytest.mark.litestream

VERSIONS = ("0.3.13", "0.5.17")
HOME = pwd.getpwuid(os.getuid()).pw_dir


def binary(version: str) -> str:
    path = ROOT / ".cache" / "litestream" / version / "bin" / "litestream"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make litestream`")
    return str(path)


def litestream(
    version: str, *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real binary in a clean environment (no stray AWS_CA_BUNDLE, LOG_LEVEL …)."""
    clean = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent-home-so-passwd-wins"}
    return subprocess.run(
        [binary(version), *map(str, args)],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def listed(
    version: str, config: Path, cwd: Path, *flags: str, env: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """`litestream databases`: (path, replica types) per database; fails the test on error."""
    proc = litestream(version, "databases", *flags, "-config", config, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [re.split(r"\s{2,}", line.rstrip(), maxsplit=1) for line in proc.stdout.splitlines()[1:]]
    return [(row[0], row[1] if len(row) > 1 else "") for row in rows]


def refuses(version: str, config: Path, cwd: Path) -> bool:
    return litestream(version, "databases", "-config", config, cwd=cwd).returncode != 0


def write(directory: Path, text: str, name: str = "litestream.yml") -> Path:
    """Write `text` as is: build configs flush-left (dedent would mangle inserted blocks)."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def shape_for(version: str) -> str:
    return "replicas" if version.startswith("0.3") else "replica"


def one_replica(version: str, body: str) -> str:
    """A replica block in the shape `version` reads, indented for a dbs: entry."""
    if version.startswith("0.3"):
        return f"    replicas:\n      - {body}\n"
    return f"    replica: {body}\n"


# --------------------------------------------------------------------------------------
# where the config comes from


def test_search_order_is_flag_then_env_then_cwd_then_etc(tmp_path: Path) -> None:
    mine = write(tmp_path / "explicit", "dbs: []\n")
    from_env = write(tmp_path / "env", "dbs: []\n")
    local = write(tmp_path / "cwd", "dbs: []\n")

    found = locate_config(str(mine), {"LITESTREAM_CONFIG": str(from_env)}, str(local.parent))
    assert found is not None and (found.path, found.how_found) == (str(mine), "explicit")
    found = locate_config(None, {"LITESTREAM_CONFIG": "env/litestream.yml"}, str(tmp_path))
    assert found is not None and (found.path, found.how_found) == (str(from_env), "env")
    found = locate_config(None, {"LITESTREAM_CONFIG": ""}, str(local.parent))
    assert found is not None and (found.path, found.how_found, found.litestream_reads_it) == (str(local), "cwd", False)
    nothing = locate_config(None, {}, str(tmp_path))
    if os.path.isfile(DEFAULT_CONFIG_PATH):
        assert nothing is not None and (nothing.path, nothing.how_found) == (DEFAULT_CONFIG_PATH, "default")
    else:
        assert nothing is None
        assert find_config_path(None, {}, str(tmp_path)) is None
    # A named file that is missing is returned, so that loading it fails as Litestream fails.
    assert find_config_path("missing.yml", {}, str(tmp_path)) == str(tmp_path / "missing.yml")


@pytest.mark.parametrize("version", VERSIONS)
def test_litestream_itself_reads_flag_then_env_and_never_the_cwd_file(version: str, tmp_path: Path) -> None:
    local = write(tmp_path, "dbs:\n  - path: /srv/cwd.db\n" + one_replica(version, "{path: /srv/r}"))
    other = write(tmp_path / "other", "dbs:\n  - path: /srv/env.db\n" + one_replica(version, "{path: /srv/r}"))
    env = {"LITESTREAM_CONFIG": str(other)}
    assert [row[0] for row in listed(version, local, tmp_path, env=env)] == ["/srv/cwd.db"]  # -config wins
    proc = litestream(version, "databases", cwd=tmp_path, env=env)
    assert proc.returncode == 0 and "/srv/env.db" in proc.stdout
    if not os.path.exists(DEFAULT_CONFIG_PATH):
        proc = litestream(version, "databases", cwd=tmp_path)
        assert proc.returncode != 0 and f"config file not found: {DEFAULT_CONFIG_PATH}" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------------------
# environment expansion


TRICKY = "/srv/a-$FOO-${FOO}-$UNSET-[${UNSET}]-$$-$1-$-x-${}-$FOO_BAR-${FOO:-dflt}-$HOME-$ -$.-{$FOO}"


@pytest.mark.parametrize("version", VERSIONS)
def test_env_expansion_is_go_os_expand_over_the_whole_text(version: str, tmp_path: Path) -> None:
    text = f'# a comment is expanded too: $FOO ${{FOO}}\ndbs:\n  - path: "{TRICKY}"\n'
    config = write(tmp_path, text + one_replica(version, "{path: /srv/r-$FOO}"))
    env = {"FOO": "foo", "FOO_BAR": "fb", "HOME": "/home/x"}
    ours = load_config(str(config), env, cwd=str(tmp_path))
    [(theirs, _)] = listed(version, config, tmp_path, env=env)
    assert ours.dbs[0].path == theirs == "/srv/a-foo-foo--[]---x--fb--/home/x-$ -$.-{foo}"
    assert ours.dbs[0].replicas[0].path == "/srv/r-foo"
    assert set(ours.unset_env_vars) == {"UNSET", "$", "1", "-", "FOO:-dflt"}

    [(raw, _)] = listed(version, config, tmp_path, "-no-expand-env", env=env)
    unexpanded = load_config(str(config), env, cwd=str(tmp_path), expand_env=False)
    assert unexpanded.dbs[0].path == raw == TRICKY
    assert unexpanded.env_vars == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_an_unclosed_brace_eats_text_up_to_the_next_brace_in_both(version: str, tmp_path: Path) -> None:
    config = write(tmp_path, 'dbs:\n  - path: "/srv/${FOO"\n' + one_replica(version, "{path: /srv/r}"))
    assert refuses(version, config, tmp_path)
    with pytest.raises(ConfigError, match=r"litestream.yml:\d+: invalid YAML"):
        load_config(str(config), {"FOO": "x"}, cwd=str(tmp_path))


def test_pid_is_litestream_s_own_pid_in_0_5_only() -> None:
    assert expand_env_vars("a-$PID-${PID}", {"PID": "env"}) == ("a-env-env", ("PID",))
    assert expand_env_vars("a-$PID-${PID}", {"PID": "env"}, pid=42) == ("a-42-42", ("PID",))
    assert expand_env_vars("trailing $", {}) == ("trailing $", ())
    assert expand_env_vars("${@}${*}$#", {"@": "at"}) == ("at", ("@", "*", "#"))


# --------------------------------------------------------------------------------------
# paths


@pytest.mark.parametrize("version", VERSIONS)
def test_relative_paths_are_relative_to_litestream_s_cwd_not_the_config_file(version: str, tmp_path: Path) -> None:
    config = write(
        tmp_path / "etc",
        "dbs:\n  - path: data/../data/./app.db/\n"
        + one_replica(version, "{path: ./replica}")
        + "  - path: ~/home.db\n"
        + one_replica(version, "{path: /srv/r}")
        + "  - path: ~x/app.db\n"
        + one_replica(version, "{path: /srv/r}"),
    )
    cwd = tmp_path / "run"
    cwd.mkdir()
    ours = load_config(str(config), {}, cwd=str(cwd))
    theirs = [row[0] for row in listed(version, config, cwd)]
    assert [db.path for db in ours.dbs] == theirs == [f"{cwd}/data/app.db", f"{HOME}/home.db", f"{cwd}/~x/app.db"]
    assert [db.relative for db in ours.dbs] == [True, False, True]
    assert ours.dbs[0].meta_dir == f"{cwd}/data/.app.db-litestream"
    assert ours.dbs[0].replicas[0].location == f"file://{cwd}/replica"


@pytest.mark.parametrize("version", VERSIONS)
def test_sqlite_url_prefix_is_stripped_by_0_5_only(version: str, tmp_path: Path) -> None:
    config = write(tmp_path, "dbs:\n  - path: sqlite:///srv/app.db\n" + one_replica(version, "{path: /srv/r}"))
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    [(theirs, _)] = listed(version, config, tmp_path)
    assert ours.dbs[0].path == "/srv/app.db"
    if version.startswith("0.5"):
        assert theirs == "/srv/app.db" and not ours.incompatibilities(version)
    else:
        assert theirs == f"{tmp_path}/sqlite:/srv/app.db"
        assert "sqlite://" in ours.incompatibilities(version)[0].message


FILE_REPLICAS = [
    ("{path: /ABS/r1}", "/ABS/r1"),
    ("{path: rel/r2/}", "/CWD/rel/r2"),
    ("{type: file, path: ./a/../r3}", "/CWD/r3"),
    ("{url: 'file:///ABS/r4'}", "/ABS/r4"),
    ("{url: 'FILE:///ABS/r5/'}", "/ABS/r5"),
    ("{url: 'file://ABS/r6'}", "/ABS/r6"),  # the "host" is just the first segment
    ("{url: 'file:rel/r7'}", "/CWD/rel/r7"),
    ("{url: 'file:/ABS/x/../r8'}", "/ABS/r8"),
    ("{url: 'file:///ABS/r9#frag'}", "/ABS/r9#frag"),
    ("{url: 'file:///ABS/r 10'}", "/ABS/r%2010"),  # Go re-escapes the path
]


@pytest.mark.parametrize("version", VERSIONS)
def test_file_replica_locations_match_where_litestream_looks(version: str, tmp_path: Path) -> None:
    cwd, absolute = tmp_path / "cwd", tmp_path / "abs"
    cwd.mkdir()
    absolute.mkdir()
    for template, want in FILE_REPLICAS:
        body = template.replace("/ABS", str(absolute)).replace("ABS", str(absolute).lstrip("/"))
        expected = want.replace("/ABS", str(absolute)).replace("/CWD", str(cwd))
        config = write(tmp_path, "dbs:\n  - path: /srv/app.db\n" + one_replica(version, body))
        replica = load_config(str(config), {}, cwd=str(cwd)).dbs[0].replicas[0]
        assert (replica.type, replica.path, replica.location) == ("file", expected, "file://" + expected), body
        # A regular file where the replica directory should be makes Litestream name the path it uses.
        Path(expected).parent.mkdir(parents=True, exist_ok=True)
        Path(expected).write_text("")
        command = "snapshots" if version.startswith("0.3") else "ltx"
        proc = litestream(version, command, "-config", config, "/srv/app.db", cwd=cwd)
        seen = re.search(r"open (.*)/(?:generations|ltx/0): not a directory", proc.stdout + proc.stderr)
        assert seen and seen[1] == expected, (body, proc.stdout + proc.stderr)


# --------------------------------------------------------------------------------------
# s3: which bucket, endpoint and prefix Litestream really lists


@pytest.fixture
def s3_recorder(s3: S3Server) -> tuple[S3Server, str]:
    """The real S3 server on 127.0.0.1, recording; a fresh bucket for this test."""
    bucket = "bkt"
    with contextlib.suppress(OSError):
        s3.create_bucket(bucket)
    s3.start_recording()
    return s3, bucket


S3_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "body",
    [
        "{url: 's3://bkt.localhost:PORT/pre/fix'}",
        "{type: s3, bucket: bkt, path: pre/fix, endpoint: 'http://127.0.0.1:PORT', region: eu-west-1}",
        "{url: 's3://bkt/pre/fix?endpoint=127.0.0.1:PORT&region=eu-west-1'}",
        "{url: 's3://bkt/pre/fix?endpoint=http://localhost:PORT&forcePathStyle=true'}",
    ],
)
def test_s3_replica_bucket_endpoint_and_prefix_match_what_litestream_lists(
    version: str, body: str, tmp_path: Path, s3_recorder: tuple[S3Server, str]
) -> None:
    server, _bucket = s3_recorder
    port = server.port
    config = write(tmp_path, "dbs:\n  - path: /srv/app.db\n" + one_replica(version, body.replace("PORT", str(port))))
    replica = load_config(str(config), {}, cwd=str(tmp_path)).dbs[0].replicas[0]
    assert (replica.type, replica.bucket, replica.path, replica.location) == (
        "s3",
        "bkt",
        "pre/fix",
        "s3://bkt/pre/fix",
    )
    if "?" in body and version.startswith("0.3"):
        # 0.3 ignores the query and would go to AWS: the notes say so, and we do not dial out.
        assert any("ignores the URL's ?query" in n.message for n in replica.notes)
        return
    assert not [n for n in replica.notes if n.generation == version[:3]]
    command = "snapshots" if version.startswith("0.3") else "ltx"
    proc = litestream(version, command, "-config", config, "/srv/app.db", cwd=tmp_path, env=S3_ENV)
    seen = [r for r in server.recorded() if r["method"] == "GET"]
    assert seen, proc.stdout + proc.stderr
    headers = seen[0]["headers"]
    assert isinstance(headers, dict)
    host = str(headers.get("Host", ""))
    url = urlsplit(str(seen[0]["url"]))
    assert urlsplit(replica.endpoint).port == port and host.endswith(f":{port}")
    assert replica.force_path_style and url.path == "/bkt"  # path-style: the bucket is the first segment
    assert unquote(parse_qs(url.query)["prefix"][0]).startswith(replica.path + "/")


# --------------------------------------------------------------------------------------
# shapes and replica types: what each version accepts, ignores or refuses


@pytest.mark.parametrize("version", VERSIONS)
def test_replica_mapping_is_ignored_by_0_3_and_read_by_0_5(version: str, tmp_path: Path) -> None:
    config = write(tmp_path, "dbs:\n  - path: /srv/app.db\n    replica: {path: /srv/r}\n")
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    [(path, types)] = listed(version, config, tmp_path)
    assert (ours.shape, ours.dbs[0].shape, path) == ("replica", "replica", "/srv/app.db")
    if version.startswith("0.3"):
        assert types == ""  # listed, but with no replica: it would replicate nowhere
        assert ours.dbs[0].replicas[0].understood_by == ("0.5",)
        assert "0.3 ignores replica:" in ours.incompatibilities(version)[0].message
    else:
        assert types == "file" and not ours.incompatibilities(version)


@pytest.mark.parametrize("version", VERSIONS)
def test_one_element_replicas_list_is_still_read_by_0_5(version: str, tmp_path: Path) -> None:
    config = write(tmp_path, "dbs:\n  - path: /srv/app.db\n    replicas: [{path: /srv/r}]\n")
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    assert listed(version, config, tmp_path) == [("/srv/app.db", "file")]
    assert ours.shape == "replicas" and not ours.incompatibilities(version)


AGE_RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"  # age's documented example

# (replica block, the versions that refuse it); whoever does not refuse it reads it as written.
VERSION_SPLITS = [
    ("    replicas: [{path: /srv/r1}, {path: /srv/r2}]", {"0.5.17"}),
    ("    replica: {path: /srv/r0}\n    replicas: [{path: /srv/r1}]", {"0.5.17"}),
    ("    monitor-interval: 1s", {"0.5.17"}),  # no replica at all
    ("    replicas: [{type: gcs, bucket: b}]", {"0.5.17"}),
    ("    replicas: [{url: 'gs://b/p'}]", {"0.3.13"}),
    ("    replicas: [{url: 'webdavs://u:pw@dav.example.com/p'}]", {"0.3.13"}),
    ("    replicas: [{url: 'nats://nats.example.com:4222/bkt'}]", {"0.3.13"}),
    ("    replicas: [{url: 'oss://bkt.oss-cn-hangzhou.aliyuncs.com/p'}]", {"0.3.13"}),
    ("    meta-dir: /srv/meta\n    replicas: [{path: /srv/r}]", {"0.5.17"}),
    ("    dir: /srv\n    pattern: '*.db'\n    replicas: [{path: /srv/r}]", {"0.5.17"}),
    ("    replicas: [{path: /srv/r, sync-interval: 0s}]", {"0.5.17"}),
    ("    replicas: [{url: 's3://bkt/p'}]\nbucket: global", {"0.5.17"}),
    ("    replicas: [{type: s3}]\nbucket: global", {"0.3.13"}),
    ("    replicas: [{url: 's3://bkt/p', age: {recipients: [AGE]}}]", {"0.5.17"}),
    ("    replicas: [{path: /srv/r}]\n  - path: /srv/./app.db\n    replicas: [{path: /srv/r2}]", {"0.5.17"}),
    ("    replicas: [{type: sftp, host: 'h:22', user: u, path: /backups}]", set()),
    ("    replicas: [{url: 'abs://acct@container/p'}]", set()),
]


@pytest.mark.parametrize("block,refused_by", VERSION_SPLITS, ids=[b.strip()[:50] for b, _ in VERSION_SPLITS])
def test_notes_predict_which_version_refuses_the_config(block: str, refused_by: set[str], tmp_path: Path) -> None:
    config = write(tmp_path, "dbs:\n  - path: /srv/app.db\n" + block.replace("AGE", AGE_RECIPIENT) + "\n")
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    for version in VERSIONS:
        notes = ours.incompatibilities(version)
        assert refuses(version, config, tmp_path) == (version in refused_by), version
        if version in refused_by:
            assert notes, f"no note explains why {version} refuses it"


# --------------------------------------------------------------------------------------
# YAML the way yaml.v2 decodes it


@pytest.mark.parametrize("version", VERSIONS)
def test_yaml_quirks_match_yaml_v2(version: str, tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "x-common: &common\n  sync-interval: 1s\n"
        "dbs:\n  - path: /srv/first.db\n    path: /srv/last-wins.db\n"
        + one_replica(version, "{<<: *common, path: /srv/r}")
        + "  - path: 0x10\n"
        + one_replica(version, "{path: /srv/r, force-path-style: y, sync-interval: 1500}")
        + "---\ndbs:\n  - path: /srv/second-document-is-ignored.db\n",
    )
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    assert [db.path for db in ours.dbs] == [row[0] for row in listed(version, config, tmp_path)]
    assert [db.path for db in ours.dbs] == ["/srv/last-wins.db", f"{tmp_path}/0x10"]
    assert ours.dbs[0].replicas[0].sync_interval == 1.0
    assert ours.dbs[1].replicas[0].sync_interval == 1.5e-6  # a bare number is nanoseconds


DURATIONS_GO_ACCEPTS = {
    "100ms": 0.1,
    "1m30s": 90.0,
    "24h": 86400.0,
    "1h2m3.5s": 3723.5,
    ".5s": 0.5,
    "5.s": 5.0,
    "+1s": 1.0,
    "1us": 1e-6,
    "1µs": 1e-6,
    "1μs": 1e-6,
    "1.0000000009s": 1.0,  # truncated to whole nanoseconds
    "0": 0.0,
}
DURATIONS_GO_REFUSES = ["1d", "1 s", "", "abc", "1", ".s", "1.5"]


@pytest.mark.parametrize("version", VERSIONS)
def test_durations_parse_exactly_as_go_parses_them(version: str, tmp_path: Path) -> None:
    entries = "".join(
        f"  - path: /srv/d{i}.db\n    monitor-interval: '{text}'\n" + one_replica(version, "{path: /srv/r}")
        for i, text in enumerate(DURATIONS_GO_ACCEPTS)
    )
    config = write(tmp_path, "dbs:\n" + entries)
    assert len(listed(version, config, tmp_path)) == len(DURATIONS_GO_ACCEPTS)
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    assert [db.monitor_interval for db in ours.dbs] == list(DURATIONS_GO_ACCEPTS.values())
    for i, text in enumerate(DURATIONS_GO_REFUSES):
        bad = write(tmp_path, f"dbs:\n  - path: /srv/x.db\n    monitor-interval: '{text}'\n", f"bad{i}.yml")
        assert refuses(version, bad, tmp_path), text
        with pytest.raises(ConfigError, match=rf"bad{i}.yml:3: monitor-interval: .* is not a duration"):
            load_config(str(bad), {}, cwd=str(tmp_path))


def test_negative_and_fractional_durations() -> None:
    assert parse_go_duration("-1.5h") == -5400.0
    assert parse_go_duration("1h0.5m") == 3630.0
    with pytest.raises(ValueError):
        parse_go_duration("9999999999h")


# --------------------------------------------------------------------------------------
# every bad config: one line naming file and line, and no version could use it


BAD_CONFIGS = [
    ("dbs:\n\t- path: x\n", 2, "invalid YAML"),
    ("- just\n- a list\n", 1, "the top level must be a mapping"),
    ("dbs: /srv/app.db\n", 1, "dbs must be a list"),
    ("dbs:\n  path: /srv/app.db\n", 2, "dbs must be a list"),
    ("dbs:\n  - /srv/app.db\n", 2, "a database entry must be a mapping"),
    ("dbs:\n  -\n  - path: /srv/app.db\n", 2, "empty database entry"),
    ("dbs:\n  - path: [a, b]\n", 2, "path must be a string"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      -\n", 4, "empty replica entry"),
    ("dbs:\n  - path: /srv/app.db\n    replicas: /srv/r\n", 3, "replicas must be a list"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - {}\n", 4, "replica has no type, path or url"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - sync-interval: 1s\n", 4, "replica has no type, path or url"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - type: ftp\n        path: /x\n", 4, "unknown replica type"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - url: /srv/plain\n", 4, "has no scheme"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - path: s3://b/p\n", 4, "is a URL; put it under url:"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - {url: 's3://b/p', path: p}\n", 4, "both url and path"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - {type: s3, path: p}\n", 4, "s3 replica has no bucket"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - url: sftp://host/p\n", 4, "sftp replica has no user"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - {path: /r, skip-verify: 'yes'}\n", 4, "skip-verify must be"),
    ("dbs:\n  - path: /srv/app.db\n    replicas:\n      - path: /r\n        sync-interval: 1d\n", 5, "not a duration"),
    ("dbs:\n  - path: /srv/app.db\n    min-checkpoint-page-count: '10'\n", 3, "must be a whole number"),
]
# Malformed in a key only one version reads: refused all the same, litefix cannot guess the intent.
BAD_FOR_ONE_VERSION = [
    ("levels:\n  - 30s\n", 2, "each levels: entry must be a mapping", "0.5.17"),
    ("snapshot:\n  interval: 1d\n", 2, "interval: '1d' is not a duration", "0.5.17"),
    ("dbs:\n  - path: /srv/a.db\n    replicas: [{path: /r, retention: forever}]\n", 3, "not a duration", "0.3.13"),
]


@pytest.mark.parametrize("text,line,words", BAD_CONFIGS, ids=[w for _, _, w in BAD_CONFIGS])
def test_bad_config_is_one_line_with_file_and_line_that_litestream_also_refuses(
    text: str, line: int, words: str, tmp_path: Path
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(str(config), {}, cwd=str(tmp_path))
    assert caught.value.message.startswith(f"{config}:{line}: "), caught.value.message
    assert words in caught.value.message and "\n" not in caught.value.message and caught.value.hint
    for version in VERSIONS:
        assert refuses(version, config, tmp_path), f"{version} accepts it, so litefix should not refuse it"


@pytest.mark.parametrize(
    "text,line,words,refused_by", BAD_FOR_ONE_VERSION, ids=[w for _, _, w, _ in BAD_FOR_ONE_VERSION]
)
def test_a_key_malformed_for_the_version_that_reads_it_is_refused(
    text: str, line: int, words: str, refused_by: str, tmp_path: Path
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(str(config), {}, cwd=str(tmp_path))
    assert caught.value.message.startswith(f"{config}:{line}: ") and words in caught.value.message
    assert [v for v in VERSIONS if refuses(v, config, tmp_path)] == [refused_by]


@pytest.mark.parametrize(
    "text,line,words",
    [
        ("dbs:\n  - replicas: [{path: /srv/r}]\n", 2, "database entry has no path"),
        ("dbs:\n  - dir: /srv/dbs\n    replica: {path: /srv/r}\n", 2, "has no pattern"),
    ],
)
def test_entries_that_0_3_silently_turns_into_its_cwd_are_refused(
    text: str, line: int, words: str, tmp_path: Path
) -> None:
    """0.3 takes a missing path as "" and so replicates its own working directory; 0.5 refuses."""
    config = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(config))}:{line}: .*{words}"):
        load_config(str(config), {}, cwd=str(tmp_path))
    assert refuses("0.5.17", config, tmp_path)
    assert listed("0.3.13", config, tmp_path)[0][0] == str(tmp_path)


def test_discover_reports_how_the_config_was_found(tmp_path: Path) -> None:
    write(tmp_path, "dbs:\n  - path: app.db\n    replicas: [{path: r}]\n")
    found = discover_config(None, {}, str(tmp_path))
    assert found is not None and (found.how_found, found.source_path) == ("cwd", str(tmp_path / "litestream.yml"))
    assert found.dbs[0].path == str(tmp_path / "app.db")
    assert [litestream_generation(v) for v in ("0.3.13", "v0.3.8", "0.5.17", "v0.5.0-test.7", "dev")] == [
        "0.3",
        "0.3",
        "0.5",
        "0.5",
        "0.5",
    ]


def test_missing_file_and_directory_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the config .*missing.yml: no such file or directory") as caught:
        load_config(str(tmp_path / "missing.yml"), {})
    assert "LITESTREAM_CONFIG" in caught.value.hint
    with pytest.raises(ConfigError, match=r"is a directory"):
        load_config(str(tmp_path), {})
    (tmp_path / "latin1.yml").write_bytes(b"dbs:\n  - path: /srv/caf\xe9.db\n")
    with pytest.raises(ConfigError, match=r"latin1.yml:2: config is not UTF-8"):
        load_config(str(tmp_path / "latin1.yml"), {})


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="litefix-config-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_unreadable_config_is_a_permission_error_naming_the_file(world_readable_dir: Path) -> None:
    config = write(world_readable_dir, "dbs: []\n")
    config.chmod(0o000)
    code = (
        "import sys\nfrom litefix.config import load_config\nfrom litefix.errors import ConfigError\n"
        "try:\n    load_config(sys.argv[1], {})\nexcept ConfigError as e:\n    print(e.message); print(e.hint)\n"
    )
    cmd = [sys.executable, "-c", code, str(config)]
    if os.geteuid() == 0:
        cmd = [*as_nobody(), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    message, hint = proc.stdout.splitlines()
    assert message == f"cannot read the config {config}: permission denied"
    assert "run litefix as the user Litestream runs as" in hint


# --------------------------------------------------------------------------------------
# finding a database, meta dirs, dir entries


@pytest.mark.parametrize("version", VERSIONS)
def test_find_db_matches_the_cleaned_path_and_follows_symlinks_only_on_request(version: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "link").symlink_to(data)
    config = write(
        tmp_path,
        f"dbs:\n  - path: {data}/app.db\n    meta-path: {tmp_path}/meta\n"
        + one_replica(version, f"{{path: {tmp_path}/r}}"),
    )
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    db = ours.find_db(f"{data}/./x/../app.db")
    assert db is ours.dbs[0] and db.meta_dir == f"{tmp_path}/meta"
    assert ours.find_db(f"{tmp_path}/link/app.db", follow_symlinks=False) is None
    assert ours.find_db(f"{tmp_path}/link/app.db") is db
    assert ours.find_db(f"{data}/other.db") is None
    # Litestream itself does not resolve the symlink either:
    command = "snapshots" if version.startswith("0.3") else "ltx"
    proc = litestream(version, command, "-config", config, f"{tmp_path}/link/app.db", cwd=tmp_path)
    assert "database not found in config" in proc.stdout + proc.stderr


def test_a_database_under_a_0_5_dir_entry_gets_its_own_replica_and_meta_dir(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        textwrap.dedent(
            """\
        dbs:
          - dir: /srv/tenants
            pattern: "*.db"
            recursive: true
            meta-dir: /var/lib/ls
            replica:
              url: s3://bkt/base?endpoint=minio:9000
          - dir: /srv/flat
            pattern: "[^_]*.sqlite"
            replica: {path: /backups/flat}
        """
        ),
    )
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    assert [db.dir for db in ours.dbs] == [True, True] and ours.dbs[0].meta_dir == "/var/lib/ls"
    tenant = ours.find_db("/srv/tenants/acme/app.db")
    assert tenant is not None and tenant.from_dir == "/srv/tenants"
    assert tenant.meta_dir == "/var/lib/ls/acme/app.db-litestream"  # meta-dir: no leading dot
    assert tenant.replicas[0].url == "s3://bkt/base/acme/app.db?endpoint=minio:9000"
    assert tenant.replicas[0].location == "s3://bkt/base/acme/app.db"
    flat = ours.find_db("/srv/flat/a.sqlite")
    assert flat is not None and flat.replicas[0].path == "/backups/flat/a.sqlite"
    assert flat.meta_dir == "/srv/flat/.a.sqlite-litestream"
    assert ours.find_db("/srv/flat/_skip.sqlite") is None
    assert ours.find_db("/srv/flat/sub/a.sqlite") is None  # not recursive
    assert any("no dir: entries" in n.message for n in ours.incompatibilities("0.3.13"))


# --------------------------------------------------------------------------------------
# narrowing to one database for a private Litestream


@pytest.mark.parametrize("version", VERSIONS)
def test_narrowed_config_makes_litestream_list_exactly_that_database(version: str, tmp_path: Path) -> None:
    config = write(
        tmp_path / "etc",
        'addr: ":9090"\nexec: "sleep 1000"\naccess-key-id: ${KEY}\nsecret-access-key: ${SECRET}\n'
        "logging:\n  level: debug\n"
        "dbs:\n  - path: /srv/one.db\n"
        + one_replica(version, "{path: /backups/one}")
        + "  - path: data/two.db\n    monitor-interval: 100ms\n    meta-path: meta/two\n"
        + one_replica(version, "{path: backups/two, sync-interval: 1s}")
        + "  - path: /srv/three.db\n"
        + one_replica(version, "{url: 's3://bkt.localhost:9/three'}"),
    )
    cwd = tmp_path / "app"
    cwd.mkdir()
    env = {"KEY": "AKIA", "SECRET": "pa$$word", "DATA": "x"}
    ours = load_config(str(config), env, cwd=str(cwd))
    for db in ours.dbs:
        narrowed = write(tmp_path / "private", narrowed_yaml(ours, db), f"{db.name}.yml")
        elsewhere = tmp_path / "elsewhere"  # the private Litestream runs somewhere else
        elsewhere.mkdir(exist_ok=True)
        rows = listed(version, narrowed, elsewhere, "-no-expand-env")
        assert rows == [(db.path, db.replicas[0].type)]
        again = load_config(str(narrowed), {}, cwd=str(elsewhere), expand_env=False)
        assert len(again.dbs) == 1
        assert again.dbs[0].meta_dir == db.meta_dir
        assert [r.location for r in again.dbs[0].replicas] == [r.location for r in db.replicas]
        assert again.dbs[0].monitor_interval == db.monitor_interval
        assert (again.raw["access-key-id"], again.raw["secret-access-key"]) == ("AKIA", "pa$$word")
        assert again.raw["logging"] == {"level": "debug"} and "exec" not in again.raw and "addr" not in again.raw
        assert again.shape == shape_for(version)


def test_narrowing_can_change_the_shape_for_the_installed_binary(tmp_path: Path) -> None:
    config = write(tmp_path, "dbs:\n  - path: /srv/a.db\n    replicas: [{path: /srv/r}]\n")
    ours = load_config(str(config), {}, cwd=str(tmp_path))
    as_05 = write(tmp_path, narrowed_yaml(ours, ours.dbs[0], shape="replica"), "as05.yml")
    assert load_config(str(as_05), {}).shape == "replica"
    assert listed("0.5.17", as_05, tmp_path) == [("/srv/a.db", "file")]
    both = write(
        tmp_path, "dbs:\n  - path: /srv/a.db\n    replica: {path: /r0}\n    replicas: [{path: /r1}]\n", "b.yml"
    )
    loaded = load_config(str(both), {})
    kept = write(tmp_path, narrowed_yaml(loaded, loaded.dbs[0]), "kept.yml")
    assert load_config(str(kept), {}).dbs[0].shape == "both"  # so 0.3 still ignores replica: and 0.5 still refuses
    assert listed("0.3.13", kept, tmp_path) == listed("0.3.13", both, tmp_path) == [("/srv/a.db", "file")]
    assert refuses("0.5.17", kept, tmp_path)
    two = write(tmp_path, "dbs:\n  - path: /srv/a.db\n    replicas: [{path: /r1}, {path: /r2}]\n", "two.yml")
    many = load_config(str(two), {})
    with pytest.raises(ConfigError, match=r"two.yml:2: /srv/a.db has 2 replicas"):
        narrowed_yaml(many, many.dbs[0], shape="replica")


# --------------------------------------------------------------------------------------
# replica URLs on their own


@pytest.mark.parametrize(
    "url,expected",
    [
        ("/srv/backups", ("file", "file:///srv/backups", "", "")),
        ("file:///srv/backups/", ("file", "file:///srv/backups", "", "")),
        ("s3://bkt/db", ("s3", "s3://bkt/db", "", "")),
        ("s3://bkt", ("s3", "s3://bkt", "", "")),
        ("s3://bkt.s3.eu-west-1.amazonaws.com/db", ("s3", "s3://bkt/db", "eu-west-1", "")),
        ("s3://bkt.localhost:9000/db", ("s3", "s3://bkt/db", "us-east-1", "http://localhost:9000")),
        ("s3://bkt/db?endpoint=s3.example.com&region=x", ("s3", "s3://bkt/db", "x", "https://s3.example.com")),
        (
            "s3://bkt.nyc3.digitaloceanspaces.com/db",
            ("s3", "s3://bkt/db", "nyc3", "https://nyc3.digitaloceanspaces.com"),
        ),
        (
            "s3://arn:aws:s3:us-west-2:123456789012:accesspoint/ap/db",
            ("s3", "s3://arn:aws:s3:us-west-2:123456789012:accesspoint/ap/db", "us-west-2", ""),
        ),
        ("gs://bkt/db", ("gs", "gs://bkt/db", "", "")),
        ("gcs://bkt/db", ("gcs", "gcs://bkt/db", "", "")),
        ("abs://acct@container/db", ("abs", "abs://acct@container/db", "", "")),
        ("sftp://me:secret@host:22/backups/db", ("sftp", "sftp://me@host:22/backups/db", "", "")),
        ("webdavs://me:pw@dav.example.com/db", ("webdav", "https://dav.example.com/db", "", "https://dav.example.com")),
        (
            "nats://nats.example.com:4222/bkt",
            ("nats", "nats://nats.example.com:4222/bkt", "", "nats://nats.example.com:4222"),
        ),
        ("oss://bkt.oss-cn-hangzhou.aliyuncs.com/db", ("oss", "oss://bkt/db", "cn-hangzhou", "")),
    ],
)
def test_parse_replica_url_accepts_every_form_litestream_accepts(url: str, expected: tuple[str, ...]) -> None:
    replica = parse_replica_url(url)
    assert (replica.type, replica.location, replica.region, replica.endpoint) == expected
    dumped = json.dumps(replica.to_json())
    assert "secret" not in dumped and ":pw@" not in dumped


def test_parse_replica_url_refuses_what_litestream_refuses() -> None:
    for url, words in [("ftp://h/p", "unknown replica type"), ("s3://:9000/p", "no bucket"), ("s3://b/%zz", "escape")]:
        with pytest.raises(ConfigError, match=words):
            parse_replica_url(url)


def test_to_json_is_plain_json_without_secrets(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        textwrap.dedent(
            """\
        secret-access-key: topsecret
        when: 2024-01-02
        dbs:
          - path: /srv/a.db
            replicas:
              - url: sftp://me:hunter2@host/backups
              - type: abs
                bucket: c
                account-key: alsosecret
        """
        ),
    )
    ours: LitestreamConfig = load_config(str(config), {})
    dumped = json.dumps(ours.to_json())
    assert all(s not in dumped for s in ("topsecret", "hunter2", "alsosecret"))
    assert '"when": "2024-01-02"' in dumped
    assert ours.dbs[0].replicas[1].inherited == ()  # abs does not read secret-access-key
