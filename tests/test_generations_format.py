"""The 0.3 readers agree with a meta dir and replica written by the real Litestream 0.3.13."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from litefix.formats.generations import (
    Gap,
    Generation,
    GenerationsError,
    Pos,
    decompressed_size,
    find_gaps,
    iter_snapshot_chunks,
    list_shadow_wals,
    read_generation,
    read_shadow_wal_header,
    read_wal_segment,
    replicated_end,
    scan_replica_generation,
    scan_replica_generations,
)
from litefix.formats.sqlite_header import MAGIC, parse_header
from tests.ls_formats_helpers import Replication, litestream_binary, replicating

pytestmark = pytest.mark.litestream


def segment_count(run: Replication) -> int:
    return len(run.replica_files("generations/*/wal/*.wal.lz4"))


def the_generation(root: Path) -> Generation:
    (generation,) = scan_replica_generations(root)
    return generation


def replica_covers_newest_shadow_wal(run: Replication) -> bool:
    generation = read_generation(run.meta)
    shadows = list_shadow_wals(run.meta, generation) if generation else []
    if not shadows:
        return False
    newest = shadows[-1]
    segments = the_generation(run.replica).segments_of(newest.index)
    return sum(decompressed_size(s.path) for s in segments) == newest.size


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replication]:
    """0.3.13 after enough commits for three WAL indexes, one of them with 3+ segments; then stopped."""
    with replicating(tmp_path_factory.mktemp("ls-0.3.13"), "0.3.13", initial_rows=20) as run:
        run.wait_for("the first snapshot", lambda: run.replica_files("generations/*/snapshots/*.snapshot.lz4"))

        def enough_history() -> bool:
            segments = the_generation(run.replica).wal_segments
            per_index = [sum(1 for s in segments if s.index == i) for i in {s.index for s in segments}]
            return len(per_index) >= 3 and max(per_index) >= 3

        while not enough_history():
            run.commit_and_wait("the commit to reach the replica", lambda: segment_count(run))
        run.wait_for("the replica to hold all of the newest shadow WAL", lambda: replica_covers_newest_shadow_wal(run))
        run.stop()
        yield run


@pytest.fixture
def replica_copy(stopped: Replication, tmp_path: Path) -> Path:
    target = tmp_path / "replica"
    shutil.copytree(stopped.replica, target)
    return target


def test_generation_file_names_the_one_replica_generation(stopped: Replication) -> None:
    generation = read_generation(stopped.meta)
    assert generation is not None and re.fullmatch(r"[0-9a-f]{16}", generation)
    assert (stopped.meta / "generation").read_bytes() == f"{generation}\n".encode()
    assert [g.name for g in scan_replica_generations(stopped.replica)] == [generation]


def test_shadow_wals_start_with_a_valid_wal_header(stopped: Replication) -> None:
    generation = read_generation(stopped.meta)
    assert generation is not None
    shadows = list_shadow_wals(stopped.meta, generation)
    assert shadows, "0.3 keeps at least the current shadow WAL"
    assert [s.index for s in shadows] == sorted(s.index for s in shadows)
    for shadow in shadows:
        header = read_shadow_wal_header(shadow.path)
        assert header == shadow.read_header()
        assert header.page_size == 4096
        assert shadow.path.name == f"{shadow.index:08x}.wal"


def test_snapshot_decompresses_to_the_whole_database_file(stopped: Replication) -> None:
    snapshot = the_generation(stopped.replica).snapshots[0]
    data = b"".join(iter_snapshot_chunks(snapshot.path))
    assert data.startswith(MAGIC)
    header = parse_header(data[:100])
    assert len(data) == header.page_count * header.page_size


def test_segments_of_an_index_concatenate_to_its_shadow_wal(stopped: Replication) -> None:
    generation = read_generation(stopped.meta)
    assert generation is not None
    replica = the_generation(stopped.replica)
    for shadow in list_shadow_wals(stopped.meta, generation):
        segments = replica.segments_of(shadow.index)
        assert segments[0].offset == 0
        assert b"".join(read_wal_segment(s.path) for s in segments) == shadow.path.read_bytes()


def test_segment_names_are_byte_offsets_that_tile_each_index(stopped: Replication) -> None:
    """`<index:08x>_<offset:08x>`: each segment starts where the previous one's bytes end."""
    replica = the_generation(stopped.replica)
    for index in {s.index for s in replica.wal_segments}:
        segments = replica.segments_of(index)
        expected = 0
        for segment in segments:
            assert segment.offset == expected
            expected += decompressed_size(segment.path)
    assert find_gaps(replica) == []


def test_replica_ends_where_the_newest_shadow_wal_ends(stopped: Replication) -> None:
    generation = read_generation(stopped.meta)
    assert generation is not None
    newest = list_shadow_wals(stopped.meta, generation)[-1]
    assert replicated_end(the_generation(stopped.replica)) == Pos(generation, newest.index, newest.size)


def test_segment_positions_are_the_positions_litestream_logs(stopped: Replication) -> None:
    logged = set(re.findall(r'msg="wal segment written" .*?position=(\S+)', stopped.log_text()))
    replica = the_generation(stopped.replica)
    assert logged == {str(s.pos) for s in replica.wal_segments}
    assert {Pos.parse(p) for p in logged} == {s.pos for s in replica.wal_segments}


def test_position_prints_like_litestream_logs() -> None:
    pos = Pos("ecda00139168f73d", 1, 4152)
    assert str(pos) == "ecda00139168f73d/00000001:4152"
    assert Pos.parse(str(pos)) == pos
    assert Pos("ecda00139168f73d", 1, 4152) < Pos("ecda00139168f73d", 2, 0)
    with pytest.raises(GenerationsError, match=r"not a 0\.3 position"):
        Pos.parse("ecda00139168f73d/1:4152")


def test_deleted_middle_segment_is_an_offset_gap(replica_copy: Path) -> None:
    replica = the_generation(replica_copy)
    index = next(i for i in sorted({s.index for s in replica.wal_segments}) if len(replica.segments_of(i)) >= 3)
    first, lost, after = replica.segments_of(index)[:3]
    lost.path.unlink()
    gaps = find_gaps(the_generation(replica_copy))
    assert gaps == [
        Gap(
            replica.name,
            "offset-gap",
            index,
            lost.offset,
            after.offset,
            f"bytes {lost.offset}-{after.offset} of index {index:08x} are in no segment",
        )
    ]
    assert first.offset == 0 and gaps[0].to_json()["kind"] == "offset-gap"


def rows_or_damage(db: Path) -> int | str:
    try:
        con = sqlite3.connect(db)
        try:
            if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return "integrity check failed"
            return int(con.execute("SELECT count(*) FROM t").fetchone()[0])
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)


def test_restore_across_an_offset_gap_exits_0_with_a_damaged_database(
    stopped: Replication, replica_copy: Path, tmp_path: Path
) -> None:
    """Why offset gaps matter: Litestream 0.3 restores straight through them, exit 0 (measured: malformed)."""
    replica = the_generation(replica_copy)
    index = next(i for i in sorted({s.index for s in replica.wal_segments}) if len(replica.segments_of(i)) >= 3)
    replica.segments_of(index)[1].path.unlink()
    assert [g.kind for g in find_gaps(the_generation(replica_copy))] == ["offset-gap"]
    binary = str(litestream_binary("0.3.13"))
    for name, source in (("full.db", stopped.replica), ("gap.db", replica_copy)):
        proc = subprocess.run(
            [binary, "restore", "-o", str(tmp_path / name), f"file://{source}"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
    assert rows_or_damage(tmp_path / "full.db") == stopped.rows
    assert rows_or_damage(tmp_path / "gap.db") != stopped.rows


def test_deleted_first_segment_and_whole_index_are_what_restore_refuses(replica_copy: Path) -> None:
    replica = the_generation(replica_copy)
    indexes = sorted({s.index for s in replica.wal_segments})
    # An index that keeps segments after losing its first, and an earlier-than-last one to lose
    # entirely (losing the last index whole leaves no trace in the replica: nothing follows it).
    first_only = next(i for i in indexes if len(replica.segments_of(i)) >= 2)
    whole = next(i for i in indexes[:-1] if i != first_only)
    for segment in replica.segments_of(whole):
        segment.path.unlink()
    replica.segments_of(first_only)[0].path.unlink()
    kinds = [(g.kind, g.index) for g in find_gaps(the_generation(replica_copy))]
    assert kinds == sorted([("missing-index", whole), ("missing-initial-segment", first_only)], key=lambda k: k[1])


def test_generation_without_snapshot_cannot_be_restored(replica_copy: Path) -> None:
    for snapshot in the_generation(replica_copy).snapshots:
        snapshot.path.unlink()
    (gap,) = find_gaps(the_generation(replica_copy))
    assert gap.kind == "no-snapshot" and "no snapshot" in gap.detail


def test_truncated_lz4_files_give_a_clear_error(replica_copy: Path) -> None:
    replica = the_generation(replica_copy)
    snapshot = replica.snapshots[0].path
    snapshot.write_bytes(snapshot.read_bytes()[:-9])
    with pytest.raises(GenerationsError, match=r"snapshot .* is truncated: its LZ4 frame ends without an end mark"):
        b"".join(iter_snapshot_chunks(snapshot))
    segment = next(s for s in replica.wal_segments if s.offset > 0)
    segment.path.write_bytes(segment.path.read_bytes()[:20])
    with pytest.raises(GenerationsError, match=r"WAL segment .* is truncated"):
        read_wal_segment(segment.path)
    previous = [s for s in replica.segments_of(segment.index) if s.offset < segment.offset][-1]
    previous.path.write_bytes(previous.path.read_bytes()[:20])
    assert any(g.kind == "unreadable-segment" and g.start == previous.offset for g in find_gaps(replica))


def test_corrupt_and_foreign_lz4_files_give_a_clear_error(replica_copy: Path) -> None:
    segment = the_generation(replica_copy).wal_segments[0].path
    data = segment.read_bytes()
    segment.write_bytes(data[:40] + bytes([data[40] ^ 0xFF]) + data[41:])
    with pytest.raises(GenerationsError, match=r"WAL segment .* is corrupt"):
        read_wal_segment(segment)
    segment.write_bytes(data + b"junk")
    with pytest.raises(GenerationsError, match="bytes after the end of its LZ4 frame"):
        read_wal_segment(segment)
    segment.write_bytes(b"SQLite format 3\x00")
    with pytest.raises(GenerationsError, match="not the LZ4 frame magic"):
        read_wal_segment(segment)
    segment.write_bytes(b"")
    with pytest.raises(GenerationsError, match="starts with nothing"):
        read_wal_segment(segment)


def test_names_litestream_cannot_parse_are_unrecognized_not_read(replica_copy: Path) -> None:
    replica = the_generation(replica_copy)
    segment = replica.wal_segments[-1]
    # An offset past 4 GiB needs 9 hex digits; Litestream's 8-digit pattern skips such a file.
    shutil.copyfile(segment.path, segment.path.with_name(f"{segment.index:08x}_100000000.wal.lz4"))
    (replica.path / "snapshots" / "00000000.snapshot.lz4.tmp").write_bytes(b"")
    (replica_copy / "generations" / "not-a-generation").mkdir()
    rescanned = scan_replica_generation(replica_copy, replica.name)
    assert rescanned.wal_segments == replica.wal_segments
    assert [p.name for p in rescanned.unrecognized] == [
        "00000000.snapshot.lz4.tmp",
        f"{segment.index:08x}_100000000.wal.lz4",
    ]
    assert [g.name for g in scan_replica_generations(replica_copy)] == [replica.name]


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (b"abc\n", "not a 16-hex-digit generation id; Litestream treats it as no generation"),
        (b"", "not a 16-hex-digit generation id"),
        (b"ECDA00139168F73D\n", "not 16 lower-case hex digits"),
    ],
)
def test_malformed_generation_file_says_what_litestream_will_do(tmp_path: Path, contents: bytes, message: str) -> None:
    (tmp_path / "generation").write_bytes(contents)
    with pytest.raises(GenerationsError, match=message):
        read_generation(tmp_path)


def test_generation_file_without_newline_or_missing(tmp_path: Path) -> None:
    assert read_generation(tmp_path) is None
    (tmp_path / "generation").write_bytes(b"ecda00139168f73d")
    assert read_generation(tmp_path) == "ecda00139168f73d"
    assert list_shadow_wals(tmp_path, "ecda00139168f73d") == []
    assert scan_replica_generations(tmp_path / "nowhere") == []


def test_shadow_wal_with_a_bad_header_names_the_file(stopped: Replication, tmp_path: Path) -> None:
    generation = read_generation(stopped.meta)
    assert generation is not None
    shadow = list_shadow_wals(stopped.meta, generation)[-1]
    broken = tmp_path / shadow.path.name
    broken.write_bytes(shadow.path.read_bytes()[:20])
    with pytest.raises(GenerationsError, match=rf"shadow WAL {re.escape(str(broken))}: -wal is 20 bytes"):
        read_shadow_wal_header(broken)
