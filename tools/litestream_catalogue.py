#!/usr/bin/env python3
"""Regenerate litefix/explain/catalogue.json from a git checkout of Litestream with its tags.

    python tools/litestream_catalogue.py GIT_DIR [--out litefix/explain/catalogue.json]

GIT_DIR is a clone (bare or not) of github.com/benbjohnson/litestream. For every release tag
from v0.3.0 to the newest v0.5.x (0.3 and 0.4 pre-releases included, the v0.5.0-test.* tags
left out) it reads every non-test Go file of the binary and extracts the first string literal
of each `fmt.Errorf`, `errors.New`, `log.Print*`/`log.Fatal*` and slog call (`slog.Info`,
`db.Logger.Error`, `r.Logger().Info`, `logger.Log(ctx, level, …)`): the messages Litestream
can print or wrap. Each distinct format string is stored once with the releases that contain
it (as ranges over the ordered tag list), where it comes from (file and function) and its
kind and level. It also records which releases log with slog and which use a few attribute
keys (`consecutive_errors`, `backoff`, `system`), the evidence `litefix explain` uses to
infer a version from a log's format.

Only data is stored: message strings and version ranges, never Litestream's code. CI uses
the checked-in file; run this when Litestream publishes a release.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "litefix" / "explain" / "catalogue.json"

# Directories that are not the litestream binary: examples, the test harness, the VFS.
SKIP_DIRS = (
    "_examples/",
    "cmd/litestream-test/",
    "cmd/litestream-vfs/",
    "tests/",
    "mock/",
    "vendor/",
    "internal/testingutil/",
)
SKIP_FILES = ("vfs.go",)

_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:-?(alpha|beta|test)\.?(\d+))?$")
_PRE_RANK = {"alpha": 0, "beta": 1, "test": 2}

_CALL = re.compile(
    r"(?P<call>\bfmt\.Errorf|\berrors\.New"
    r"|\b(?P<recv>[A-Za-z_][\w.]*(?:\(\))?(?:\.With\([^()]*\))?)\.(?P<method>Printf|Println|Print|Fatalf|Fatalln|Fatal"
    r"|Info|Warn|Error|Debug|InfoContext|WarnContext|ErrorContext|DebugContext|Log))\("
)
_FUNC = re.compile(r"^func\s+(?:\(\s*\w*\s*\*?(?P<type>\w+)(?:\[[^\]]*\])?\s*\)\s*)?(?P<name>\w+)", re.M)
_VERB = re.compile(r"%[-+# 0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[a-zA-Z%]")
_EVIDENCE_KEYS = ("consecutive_errors", "backoff", "system", "subsystem", "previous_errors")
_SLOG_IMPORT = re.compile(r'"(?:log/slog|golang\.org/x/exp/slog)"')
_LEVEL_OF = {"Info": "INFO", "Warn": "WARN", "Error": "ERROR", "Debug": "DEBUG"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def version_key(tag: str) -> tuple[int, int, int, int, int]:
    m = _TAG.match(tag)
    assert m, tag
    major, minor, patch, pre, num = m.groups()
    pre_rank = _PRE_RANK[pre] if pre else 9
    return (int(major), int(minor), int(patch), pre_rank, int(num or 0))


def release_tags(git_dir: str) -> list[str]:
    out = subprocess.run(["git", "--git-dir", git_dir, "tag"], capture_output=True, text=True, check=True).stdout
    tags = []
    for tag in out.split():
        m = _TAG.match(tag)
        if not m or m.group(4) == "test":
            continue
        if version_key(tag) >= (0, 3, 0, 0, 0):
            tags.append(tag)
    return sorted(tags, key=version_key)


class Blobs:
    """One `git cat-file --batch` process: most files are identical across tags, so each blob is read once."""

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir
        self.proc = subprocess.Popen(
            ["git", "--git-dir", git_dir, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def read(self, sha: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(sha.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        size = int(header[2])
        data = self.proc.stdout.read(size + 1)[:-1]
        return data.decode("utf-8", errors="replace")

    def files(self, tag: str) -> Iterator[tuple[str, str]]:
        out = subprocess.run(
            ["git", "--git-dir", self.git_dir, "ls-tree", "-r", tag], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            meta, path = line.split("\t", 1)
            if not path.endswith(".go") or path.endswith("_test.go"):
                continue
            if path.startswith(SKIP_DIRS) or path in SKIP_FILES:
                continue
            yield path, meta.split()[2]


def _string_at(src: str, pos: int) -> tuple[str, int] | None:
    """The Go string literal (or `"a" + "b"` concatenation) starting at pos, and where it ends."""
    parts: list[str] = []
    while True:
        while pos < len(src) and src[pos] in " \t\r\n":
            pos += 1
        if pos >= len(src):
            return None
        if src[pos] == "`":
            end = src.find("`", pos + 1)
            if end < 0:
                return None
            parts.append(src[pos + 1 : end])
            pos = end + 1
        elif src[pos] == '"':
            i = pos + 1
            buf: list[str] = []
            while i < len(src) and src[i] != '"':
                if src[i] == "\\" and i + 1 < len(src):
                    buf.append(_ESCAPES.get(src[i + 1], src[i + 1]))
                    i += 2
                else:
                    buf.append(src[i])
                    i += 1
            parts.append("".join(buf))
            pos = i + 1
        else:
            return ("".join(parts), pos) if parts else None
        rest = src[pos : pos + 64].lstrip()
        if not rest.startswith("+"):
            return "".join(parts), pos
        pos = src.index("+", pos) + 1


def _skip_arg(src: str, pos: int) -> int:
    """Position after the next top-level comma from pos (one call argument skipped)."""
    depth = 0
    while pos < len(src):
        c = src[pos]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                return pos
            depth -= 1
        elif c == "," and depth == 0:
            return pos + 1
        elif c == '"':
            pos += 1
            while pos < len(src) and src[pos] != '"':
                pos += 2 if src[pos] == "\\" else 1
        pos += 1
    return pos


def literal_letters(fmt: str) -> int:
    return sum(ch.isalpha() for ch in _VERB.sub("", fmt))


def extract(path: str, src: str) -> Iterator[tuple[str, str, str, str]]:
    """(format, kind, level, where) for every message call in one Go file."""
    funcs = [
        (m.start(), (f"{m.group('type')}.{m.group('name')}" if m.group("type") else m.group("name")))
        for m in _FUNC.finditer(src)
    ]
    for m in _CALL.finditer(src):
        method = m.group("method") or ""
        recv = m.group("recv") or ""
        call = m.group("call")
        pos = m.end()
        level = ""
        if call.endswith(("Errorf", "errors.New")) and not method:
            kind = "error"
        elif method in ("Printf", "Println", "Print", "Fatalf", "Fatalln", "Fatal"):
            if not (recv == "log" or recv.lower().endswith("logger") or recv.endswith("Logger()")):
                continue  # fmt.Printf and friends: CLI output, not log lines
            kind = "log"
            level = "ERROR" if method.startswith("Fatal") else ""
        else:
            if recv in ("t", "b", "tb", "http", "fmt", "errors", "err") or recv.startswith(("t.", "err")):
                continue
            kind = "log"
            base = method.removesuffix("Context")
            if method.endswith("Context"):
                pos = _skip_arg(src, pos)
            if base == "Log":
                pos = _skip_arg(src, pos)
                level_arg = src[pos : _skip_arg(src, pos)]
                level = "DEBUG" if "Trace" in level_arg or "Debug" in level_arg else _level_name(level_arg)
                pos = _skip_arg(src, pos)
            else:
                level = _LEVEL_OF[base]
        lit = _string_at(src, pos)
        if lit is None:
            continue
        fmt = lit[0].strip()
        if literal_letters(fmt) < 4 or "\n" in fmt.strip():
            continue  # "%s: %w" and usage texts: nothing to recognise a line by
        if kind == "log" and not level:
            level = "ERROR" if re.search(r"error|fail|cannot|unable|invalid", fmt, re.I) else "INFO"
        func = ""
        for start, name in funcs:
            if start > m.start():
                break
            func = name
        yield fmt, kind, level, f"{path}:{func}" if func else path


def _level_name(arg: str) -> str:
    for name in ("Error", "Warn", "Info", "Debug"):
        if name in arg:
            return _LEVEL_OF[name]
    return "DEBUG"


def ranges(bits: list[int], tags: list[str]) -> str:
    """Indices of tags -> "0.3.0..0.3.13 0.5.0..0.5.16" (runs over the ordered tag list)."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(bits):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(_run(run, tags))
        run = [i]
    if run:
        out.append(_run(run, tags))
    return " ".join(out)


def _run(run: list[int], tags: list[str]) -> str:
    a, b = tags[run[0]].lstrip("v"), tags[run[-1]].lstrip("v")
    return a if a == b else f"{a}..{b}"


def build(git_dir: str) -> dict[str, object]:
    tags = release_tags(git_dir)
    blobs = Blobs(git_dir)
    per_blob: dict[str, list[tuple[str, str, str, str]]] = {}
    evidence_blob: dict[str, set[str]] = {}
    messages: dict[str, dict[str, object]] = {}
    seen: dict[str, set[int]] = {}
    where: dict[str, dict[str, None]] = {}
    features: dict[str, set[int]] = {}
    for index, tag in enumerate(tags):
        for path, sha in blobs.files(tag):
            if sha not in per_blob:
                src = blobs.read(sha)
                per_blob[sha] = list(extract(path, src))
                found = {f"key:{k}" for k in _EVIDENCE_KEYS if f'"{k}"' in src}
                if _SLOG_IMPORT.search(src):
                    found.add("slog")
                if re.search(r"\blog\.Printf\(", src):
                    found.add("log.Printf")
                evidence_blob[sha] = found
            for feature in evidence_blob[sha]:
                features.setdefault(feature, set()).add(index)
            for fmt, kind, level, loc in per_blob[sha]:
                key = f"{kind}\x00{level}\x00{fmt}"
                messages.setdefault(key, {"fmt": fmt, "kind": kind, "level": level})
                seen.setdefault(key, set()).add(index)
                where.setdefault(key, {}).setdefault(loc, None)
    entries = []
    for key, entry in messages.items():
        locs = list(where[key])
        entry["where"] = locs[:3]
        entry["releases"] = ranges(sorted(seen[key]), tags)
        entries.append(entry)
    entries.sort(key=lambda e: (str(e["fmt"]).lower(), str(e["kind"]), str(e["level"])))
    return {
        "source": "github.com/benbjohnson/litestream, generated by tools/litestream_catalogue.py",
        "versions": [t.lstrip("v") for t in tags],
        "features": {k: ranges(sorted(v), tags) for k, v in sorted(features.items())},
        "messages": entries,
    }


def dump(doc: dict[str, object]) -> str:
    """JSON with one message per line: a regeneration after a release diffs as the lines that changed."""
    messages = doc["messages"]
    assert isinstance(messages, list)
    head = {k: v for k, v in doc.items() if k != "messages"}
    lines = [json.dumps(m, ensure_ascii=False, separators=(",", ":")) for m in messages]
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "messages": [\n' + ",\n".join(lines) + "\n]}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("git_dir")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    doc = build(args.git_dir)
    Path(args.out).write_text(dump(doc))
    print(f"{len(doc['messages'])} messages over {len(doc['versions'])} releases -> {args.out}", file=sys.stderr)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
