"""The LTX reader agrees with files written by the real Litestream 0.5 binaries, and names damage clearly.

0.5.17 writes pages as LZ4 blocks (ltx 0.5.2); 0.5.15 wrote them as LZ4 frames (ltx 0.5.1).
Replicas upgraded in place hold both, so every check runs against both writers.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastcrc import crc64

from litefix.formats.ltx import (
    CHECKSUM_FLAG,
    DatabaseChecksum,
    LtxError,
    checksum_database_file,
    combine,
    list_ltx_tmp_files,
    page_checksum,
    parse_ltx_header,
    parse_ltx_name,
    read_ltx_header,
    scan_ltx_dir,
)
from litefix.formats.ltx_pages import iter_ltx_pages, verify_ltx
from litefix.formats.sqlite_header import lock_page
from litefix.formats.wal import FRAME_HEADER_SIZE, HEADER_SIZE, scan_wal
from tests.ls_formats_helpers import Replication, replicating

pytestmark = pytest.mark.litestream

ENCODING = {"0.5.17": "lz4-block", "0.5.15": "lz4-frame"}


def l0_count(run: Replication) -> int:
    return len(run.replica_files("ltx/0/*.ltx"))


@pytest.fixture(scope="module", params=["0.5.17", "0.5.15"])
def stopped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replication]:
    """A replica after a few app commits and a startup snapshot; Litestream stopped, WAL checkpointed."""
    version: str = request.param
    with replicating(tmp_path_factory.mktemp(f"ls-{version}"), version, initial_rows=40) as run:
        run.wait_for("the startup L9 snapshot in the replica", lambda: run.replica_files("ltx/9/*.ltx"))
        for _ in range(3):
            run.commit_and_wait("the commit to reach the replica's L0", lambda: l0_count(run))
        run.stop()
        run.quiet_checkpoint()
        yield run


def copy_of(path: Path, tmp_path: Path, name: str | None = None) -> Path:
    target = tmp_path / (name or path.name)
    shutil.copyfile(path, target)
    return target


def rewritten(path: Path, tmp_path: Path, offset: int, value: bytes) -> Path:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    target = tmp_path / f"edited-{offset}.ltx"
    target.write_bytes(bytes(data))
    return target


def test_fastcrc_go_iso_is_gos_crc64_iso_with_continuation() -> None:
    # The catalogued check value of CRC-64/GO-ISO, and streaming in two parts gives the same.
    assert crc64.go_iso(b"123456789") == 0xB90956C775A41001
    assert crc64.go_iso(b"6789", crc64.go_iso(b"12345")) == 0xB90956C775A41001


def test_every_replica_and_meta_dir_ltx_file_verifies(stopped: Replication) -> None:
    files = scan_ltx_dir(stopped.replica) + scan_ltx_dir(stopped.meta)
    levels = {f.level for f in files}
    assert {0, 9} <= levels, levels
    for info in files:
        assert info.header is not None, info.header_error
        assert info.name_matches_header, info.name
        result = verify_ltx(info.path)
        assert result.ok, result.error
        assert result.computed_checksum == result.stored_checksum
        assert result.page_encoding == ENCODING[stopped.version]
        assert result.header is not None and result.header.no_checksum  # 0.5 writes no database checksums
        assert result.trailer is not None and result.trailer.post_apply_checksum == 0
        json.dumps(result.to_json())
        json.dumps(info.to_json())
    meta_levels = {f.level for f in scan_ltx_dir(stopped.meta)}
    assert meta_levels == {0}, "0.5 keeps only L0 files locally"


def test_snapshot_holds_every_page_and_compactions_carry_no_wal_position(stopped: Replication) -> None:
    for info in scan_ltx_dir(stopped.replica):
        assert info.header is not None
        result = verify_ltx(info.path)
        if info.level == 9:
            assert info.header.is_snapshot
            assert (result.min_pgno, result.max_pgno, result.page_count) == (1, info.header.commit, info.header.commit)
            assert result.database_checksum is not None
        elif info.level in (1, 2, 3):
            assert (info.header.wal_offset, info.header.wal_size, info.header.wal_salts) == (0, 0, (0, 0))
        else:
            assert info.header.wal_offset >= HEADER_SIZE and info.header.wal_size > 0


def test_replica_l0_files_are_byte_copies_of_the_meta_dir_ones(stopped: Replication) -> None:
    local = {p.name: p.read_bytes() for p in stopped.meta_files("ltx/0/*.ltx")}
    uploaded = {p.name: p.read_bytes() for p in stopped.replica_files("ltx/0/*.ltx")}
    assert uploaded
    assert all(local[name] == data for name, data in uploaded.items() if name in local)


def test_newest_l0_ends_where_the_live_wal_last_commit_ends(tmp_path: Path) -> None:
    with replicating(tmp_path, "0.5.17", initial_rows=20) as run:

        def wal_restarted() -> bool:
            """An L0 after the first that starts a WAL cycle: a checkpoint restarted the -wal."""
            return any(f.header and f.header.wal_offset == HEADER_SIZE for f in scan_ltx_dir(run.meta)[1:])

        for _ in range(3):
            run.commit_and_wait("a new local L0 file", lambda: len(run.meta_files("ltx/0/*.ltx")))
        run.wait_for("a checkpoint that restarts the WAL (1 s interval)", wal_restarted)
        run.write_rows(20)

        def newest_l0_at_wal_end() -> bool:
            wal = scan_wal(f"{run.db}-wal")
            newest = scan_ltx_dir(run.meta)[-1].header
            return bool(
                wal.header
                and newest
                and newest.wal_salts == wal.header.salts
                and newest.wal_offset + newest.wal_size == wal.committed_end
            )

        run.wait_for("the newest L0 to end at the live -wal's last commit, with its salts", newest_l0_at_wal_end)
        run.stop()
    headers = [f.header for f in scan_ltx_dir(run.meta)]
    assert all(h is not None for h in headers)
    frame = FRAME_HEADER_SIZE + 4096
    for prev, cur in itertools.pairwise(headers):
        assert prev is not None and cur is not None
        assert cur.min_txid == cur.max_txid == prev.max_txid + 1  # one TXID per sync, no holes
        assert (cur.wal_offset - HEADER_SIZE) % frame == 0 and cur.wal_size % frame == 0
        if cur.wal_salts == prev.wal_salts:  # same WAL cycle: each file starts where the last ended
            assert cur.wal_offset == prev.wal_offset + prev.wal_size
        else:  # SQLite restarted the WAL: salt-1 grows by one and frames start over
            assert cur.wal_offset == HEADER_SIZE
            assert cur.wal_salt1 == (prev.wal_salt1 + 1) % (1 << 32)


def test_header_is_read_from_the_first_100_bytes_only(stopped: Replication, tmp_path: Path) -> None:
    source = stopped.replica_files("ltx/0/*.ltx")[-1]
    head_only = tmp_path / source.name
    head_only.write_bytes(source.read_bytes()[:100])
    assert read_ltx_header(head_only) == read_ltx_header(source)
    result = verify_ltx(head_only)
    assert not result.ok and result.error is not None and "truncated" in result.error


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (0, "shorter than an LTX header"),
        (60, "header is truncated: 60 of 100 bytes"),
        (120, "an LTX file is at least 131"),
        ("half", "truncated or corrupt"),
        ("all-but-one", "truncated or corrupt"),
    ],
)
def test_truncated_ltx_file_is_reported_as_truncated(
    stopped: Replication, tmp_path: Path, keep: int | str, message: str
) -> None:
    source = stopped.replica_files("ltx/9/*.ltx")[-1]
    data = source.read_bytes()
    cut = {"half": len(data) // 2, "all-but-one": len(data) - 1}.get(str(keep), keep)
    assert isinstance(cut, int)
    target = tmp_path / source.name
    target.write_bytes(data[:cut])
    result = verify_ltx(target)
    assert not result.ok and result.error is not None
    assert message in result.error
    with pytest.raises(LtxError, match=r"truncated|shorter"):
        list(iter_ltx_pages(target))


def test_bad_magic_names_the_bytes_found(stopped: Replication, tmp_path: Path) -> None:
    target = rewritten(stopped.replica_files("ltx/0/*.ltx")[0], tmp_path, 0, b"LTX0")
    with pytest.raises(LtxError, match="first 4 bytes are 4c545830, not the LTX magic 'LTX1'"):
        read_ltx_header(target)
    assert verify_ltx(target).error == "first 4 bytes are 4c545830, not the LTX magic 'LTX1'"


def test_unknown_flags_and_page_size_are_refused(stopped: Replication, tmp_path: Path) -> None:
    header = stopped.replica_files("ltx/0/*.ltx")[0].read_bytes()[:100]
    with pytest.raises(LtxError, match="unsupported header flags 0x00000006"):
        parse_ltx_header(header[:4] + (6).to_bytes(4, "big") + header[8:])
    with pytest.raises(LtxError, match="page size 1000 is not a power of two"):
        parse_ltx_header(header[:8] + (1000).to_bytes(4, "big") + header[12:])
    with pytest.raises(LtxError, match="TXIDs out of order"):
        parse_ltx_header(header[:16] + (9).to_bytes(8, "big") + (3).to_bytes(8, "big") + header[32:])


def test_flipped_page_byte_is_caught_by_the_checksums(stopped: Replication, tmp_path: Path) -> None:
    source = stopped.replica_files("ltx/9/*.ltx")[-1]
    data = source.read_bytes()
    # Page 1 starts with the SQLite magic, which LZ4 stores as a literal: flipping one of its
    # bytes leaves a block that still decompresses, to a different page.
    at = data.index(b"SQLite format 3")
    target = rewritten(source, tmp_path, at + 3, b"l")
    result = verify_ltx(target)
    assert not result.ok and result.error is not None
    if stopped.version == "0.5.17":  # LZ4 blocks carry no checksum: only the file checksum sees it
        assert result.error.startswith("file checksum mismatch: trailer says")
        assert result.computed_checksum is not None and result.computed_checksum != result.stored_checksum
    else:  # LZ4 frames carry their own content checksum, which fails first
        assert "page 1 at offset 100: LZ4 frame does not decompress" in result.error
        assert "contentChecksum_invalid" in result.error
    with pytest.raises(LtxError):
        list(iter_ltx_pages(target))


def test_flipped_trailer_checksum_is_a_mismatch(stopped: Replication, tmp_path: Path) -> None:
    source = stopped.replica_files("ltx/0/*.ltx")[-1]
    last = source.read_bytes()[-1]
    result = verify_ltx(rewritten(source, tmp_path, source.stat().st_size - 1, bytes([last ^ 1])))
    assert result.error is not None and result.error.startswith("file checksum mismatch")


def test_ltx_names_parse_like_litestream() -> None:
    assert parse_ltx_name("0000000000000001-00000000000000ff.ltx") == (1, 255)
    assert parse_ltx_name("0000000000000001-00000000000000FF.ltx") is None  # Go's regexp is lower-case
    assert parse_ltx_name("1-2.ltx") is None
    assert parse_ltx_name("0000000000000001-0000000000000001.ltx.tmp") is None


def test_directory_scan_flags_bad_names_mislabels_and_interrupted_writes(stopped: Replication, tmp_path: Path) -> None:
    root = tmp_path / "replica"
    level0 = root / "ltx" / "0"
    level0.mkdir(parents=True)
    source = stopped.replica_files("ltx/0/*.ltx")[1]
    copy_of(source, level0)
    copy_of(source, level0, "snapshot.ltx")
    copy_of(source, level0, "00000000000000aa-00000000000000aa.ltx")
    copy_of(source, level0, "00000000000000bb-00000000000000bb.ltx.tmp")
    (root / "ltx" / "10").mkdir()
    copy_of(source, root / "ltx" / "10")
    infos = {i.name: i for i in scan_ltx_dir(root)}
    assert set(infos) == {source.name, "snapshot.ltx", "00000000000000aa-00000000000000aa.ltx"}
    assert infos[source.name].name_matches_header
    assert not infos["snapshot.ltx"].name_ok and infos["snapshot.ltx"].header is not None
    assert infos["00000000000000aa-00000000000000aa.ltx"].name_ok
    assert not infos["00000000000000aa-00000000000000aa.ltx"].name_matches_header
    assert [t.path.name for t in list_ltx_tmp_files(root)] == ["00000000000000bb-00000000000000bb.ltx.tmp"]


def test_unreadable_header_is_kept_as_an_error_in_the_scan(stopped: Replication, tmp_path: Path) -> None:
    level0 = tmp_path / "ltx" / "0"
    level0.mkdir(parents=True)
    (level0 / "0000000000000001-0000000000000001.ltx").write_bytes(b"LTX1\x00\x00")
    (info,) = scan_ltx_dir(tmp_path)
    assert info.header is None and info.header_error == "header is truncated: 6 of 100 bytes"


def test_missing_file_is_an_error_field_not_an_exception(tmp_path: Path) -> None:
    result = verify_ltx(tmp_path / "gone.ltx")
    assert not result.ok and result.error is not None and result.error.startswith("cannot read")


# --- the LTX database checksum ------------------------------------------------------------


def database_pages(db: Path, page_size: int = 4096) -> list[tuple[int, bytes]]:
    data = db.read_bytes()
    return [(i // page_size + 1, data[i : i + page_size]) for i in range(0, len(data), page_size)]


def test_database_checksum_ignores_order_sees_one_byte_and_skips_the_lock_page(stopped: Replication) -> None:
    pages = database_pages(stopped.db)
    assert len(pages) > 5
    forward = DatabaseChecksum(4096).add_all(pages)
    shuffled = pages[:]
    random.Random(3).shuffle(shuffled)
    assert DatabaseChecksum(4096).add_all(shuffled) == forward
    assert forward == checksum_database_file(stopped.db)
    assert forward & CHECKSUM_FLAG

    pgno, page = pages[2]
    changed = page[:100] + bytes([page[100] ^ 1]) + page[101:]
    assert DatabaseChecksum(4096).add_all([*pages[:2], (pgno, changed), *pages[3:]]) != forward
    # The same bytes under another page number are another page: the number is hashed too.
    assert page_checksum(pgno, page) != page_checksum(pgno + 1, page)
    assert page_checksum(pgno, page) == CHECKSUM_FLAG | crc64.go_iso(pgno.to_bytes(4, "big") + page)

    with_lock_page = DatabaseChecksum(4096)
    with_lock_page.add_all([*pages, (lock_page(4096), page)])
    assert with_lock_page.value == forward and with_lock_page.pages == len(pages)

    acc = CHECKSUM_FLAG
    for n, p in pages:
        acc = combine(acc, page_checksum(n, p))
    assert acc == forward
    assert combine(combine(acc, page_checksum(pgno, page)), page_checksum(pgno, page)) == acc  # XOR cancels


def test_snapshot_replayed_to_the_newest_txid_has_the_checksum_of_the_checkpointed_database(
    stopped: Replication,
) -> None:
    """Restore's arithmetic: L9, then every later L0 in TXID order, cut to the last commit size."""
    files = scan_ltx_dir(stopped.replica)
    (snapshot,) = [f for f in files if f.level == 9]
    assert snapshot.header is not None and snapshot.max_txid is not None
    later = [f for f in files if f.level == 0 and f.min_txid is not None and f.min_txid > snapshot.max_txid]
    page_sums: dict[int, int] = {}
    commit = snapshot.header.commit
    for info in [snapshot, *later]:
        assert info.header is not None
        for pgno, page in iter_ltx_pages(info.path):
            page_sums[pgno] = page_checksum(pgno, page)
        commit = info.header.commit
    replayed = CHECKSUM_FLAG
    for pgno, page_sum in page_sums.items():
        if pgno <= commit:
            replayed = combine(replayed, page_sum)

    assert replayed == checksum_database_file(stopped.db)
    if not later:  # nothing after the snapshot: the snapshot alone is the database
        assert verify_ltx(snapshot.path).database_checksum == replayed
