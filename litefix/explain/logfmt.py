"""One log entry out of one pasted line, whatever format and prefix it came in; and the stream of them.

Litestream has logged in three shapes: plain `log.Printf` text before 0.3.13 (`/data/db: sync
error: …`, `/data/db(s3): monitor error: …`), slog text from 0.3.13 on (`time=… level=ERROR
msg="sync error" db=… error="…"`), and 0.5's slog with more attributes (`system=`,
`consecutive_errors=`, `backoff=`). Log shippers put their own prefix in front (`litestream-1 | `,
Fly's `app[…] ams [info]`, journald's `host litestream[42]: `, an RFC 3339 timestamp). Wrapped
errors span lines: a logfmt pair on a line of its own, or an AWS SDK v1 `status code: 403,
request id: …` continuation. All of that is folded here into `LogRecord`s.

Reading is a stream with bounded memory: a line is cut at MAX_LINE and the rest of it skipped,
and a "line" that runs past MAX_LINE_RUN bytes without a newline (`/dev/zero`, a disk image) ends
the input with one sentence instead of eating memory or hanging.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import BinaryIO, NamedTuple

from litefix.errors import CannotInspect

# Longest line parsed; anything after it is skipped (a Litestream line is well under 4 KiB).
MAX_LINE = 64 * 1024
# Bytes without a newline after which the input is not a text log at all.
MAX_LINE_RUN = 64 * 1024 * 1024

_PAIR = re.compile(r'\s*([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"?|\S*)')
# No look-behind and an unrolled quoted string: this regex runs once per line of a 1 GB log.
_PAIRS = re.compile(r'([A-Za-z_][\w.\-]*)=("[^"\\]*(?:\\.[^"\\]*)*"?|\S*)')
_WORD = re.compile(r"\s*\S+")
_BLANK_TO_END = re.compile(r"\s*$")
_STARTS_WITH_PAIR = re.compile(r"[A-Za-z_][\w.\-]*=")
_ESCAPE = re.compile(r'\\(["\\/abfnrtv]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})')
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r"}
_SIMPLE_ESCAPES |= {"t": "\t", "v": "\v"}
TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"  # ISO 8601 / RFC 3339
    r"|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?"  # Go's log package
    r"|\b[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}\b"  # syslog / journald
)
_ERROR_PREFIX = re.compile(r"^(?:.*?\s)?Error: ")
# What a shipper or Go's log package puts before a plain (pre-0.3.13) line: timestamps, a
# `name | ` column, journald's `host unit[pid]: `, Fly's `app[id] region [info]`.
_PLAIN_PREFIX = re.compile(
    r"^(?:(?:" + TIMESTAMP.pattern + r")\s*|[\w.\-]+\s+\|\s*|\S+\s+[\w.\-/]+\[\d+\]:\s*"
    r"|app\[\w+\]\s+\w+\s+\[\w+\]\s*|\[\w+\]\s*|[\w.\-]+-[0-9a-f]{6,}\s+)+"
)
# An AWS SDK v1 error prints its request ids on a second line (`AccessDenied: Access Denied\n\t
# status code: 403, request id: …`); pasted, that is a line of its own.
_SDK_CONTINUATION = re.compile(  # #011: syslog's escaped tab
    r"(?:^|[|:\]]\s|#011)\s*(?:status code: \d{3}, request id: |For verbose messaging see aws\.Config"
    r"|caused by: |upload id: )"
)
# slog's default handler, used by 0.3.12-0.3.14 when the config has no `logging:` section (verified
# with 0.3.13): `2026/12/01 12:14:38 ERROR sync error db=/data/app.db error="…"`, the time optional.
_GO_TEXT = re.compile(
    r"(?:^|(?<=[\s|:\]]))(?:(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) )?(DEBUG|INFO|WARN|ERROR) "
)
_FIRST_PAIR = re.compile(r"\s[A-Za-z_][\w.\-]*=")
_LEVELS = {"WARNING": "WARN", "ERR": "ERROR", "FATAL": "ERROR", "EROR": "ERROR", "DBUG": "DEBUG"}
_LEVEL_OF = {name: name for name in ("INFO", "ERROR", "WARN", "DEBUG")}  # the usual spellings, no .upper()


_NO_FIELDS: Mapping[str, str] = MappingProxyType({})


class LogRecord(NamedTuple):
    """One log entry: a logfmt line (plus any wrapped continuation) or one plain-text line.

    A NamedTuple rather than a frozen dataclass: a big log makes millions of these, and a tuple
    is built several times faster while staying immutable.
    """

    line: int  # 1-based number of its first input line
    raw: str
    time: str | None = None
    level: str | None = None
    msg: str = ""
    db: str | None = None
    error: str | None = None
    fields: Mapping[str, str] = _NO_FIELDS
    logfmt: bool = False

    @property
    def text(self) -> str:
        """What signatures match against: the message, then the error and reason it carries.

        Paths and counters stay out (a database called `malformed.db` must not match), except
        in plain-text lines, where there is nothing else to go on.
        """
        if not self.logfmt:
            return self.msg
        reason = self.fields.get("reason")
        if not self.error and not reason:  # most lines: no join, no new string
            return self.msg
        return " ".join(p for p in (self.msg, self.error, reason) if p)


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        return value
    body = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    if "\\" not in body:
        return body

    def decode(m: re.Match[str]) -> str:
        code = m.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        try:
            return chr(int(code[1:], 16))
        except (ValueError, OverflowError):
            return m.group(0)

    return _ESCAPE.sub(decode, body)


def parse_pairs(text: str) -> tuple[dict[str, str], bool]:
    """logfmt `key=value` pairs (values may be quoted, with Go escapes); the first of a key wins.

    0.5 prints `msg=litestream version=0.5.17 level=info`: the second `level` is the configured
    one, not the line's. The flag says whether every word was a pair (a wrapped continuation).
    """
    pairs: dict[str, str] = {}
    only_pairs = True
    pos = 0
    while pos < len(text) and not _BLANK_TO_END.match(text, pos):
        m = _PAIR.match(text, pos)
        if m and m.end() > pos:
            pairs.setdefault(m.group(1), _unquote(m.group(2)))
            pos = m.end()
            continue
        only_pairs = False
        w = _WORD.match(text, pos)
        pos = w.end() if w else len(text)
    return pairs, only_pairs


def _fast_pairs(text: str) -> dict[str, str]:
    """The same pairs as `parse_pairs`, found in one C-level scan: the hot path of a big log."""
    # reversed: the first occurrence of a key is written last and wins, as in parse_pairs. The
    # common quoted value without escapes is unquoted inline (a function call per value costs).
    return {
        k: (v[1:-1] if len(v) > 1 and v[-1] == '"' and "\\" not in v else _unquote(v)) if v[:1] == '"' else v
        for k, v in reversed(_PAIRS.findall(text))
    }


def _json_record(number: int, text: str) -> LogRecord | None:
    """A line of slog's JSON handler (0.5 `logging: type: json`), after whatever prefix, or None."""
    import json

    try:
        doc = json.loads(text[text.index('{"') :])
    except ValueError:
        return None
    if not isinstance(doc, dict) or "msg" not in doc:
        return None
    fields = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}
    msg = fields.get("msg", "")
    return LogRecord(
        line=number,
        raw=text,
        time=fields.get("time"),
        level=_level(fields.get("level")),
        msg=msg,
        db=fields.get("db") or (fields.get("path") if msg == "initialized db" else None),
        error=fields.get("error"),
        fields=fields,
        logfmt=True,
    )


def _logfmt_start(text: str) -> int:
    """Where `time=`, `level=` or `msg=` first starts a word (after a shipper's prefix), or -1.

    str.find instead of a look-behind regex: the regex engine would try every position.
    """
    best = -1
    for key in ("time=", "level=", "msg="):
        i = text.find(key)
        while i > 0 and text[i - 1] not in " \t|]:>":
            i = text.find(key, i + 1)
        if i >= 0 and (best < 0 or i < best):
            best = i
    return best


def _level(value: str | None) -> str | None:
    if not value:
        return None
    upper = value.upper()
    return _LEVELS.get(upper, upper)


def _first_timestamp(text: str) -> str | None:
    m = TIMESTAMP.search(text)
    return m.group(0) if m else None


def parse_line(number: int, raw: str) -> LogRecord | None:
    """One record from one line, or None for a blank line. Never raises."""
    text = raw.replace("\x00", "").strip() if "\x00" in raw else raw.strip()
    if not text:
        return None
    text = text[:MAX_LINE]
    if '{"' in text and '"msg"' in text:  # `logging: type: json`
        record = _json_record(number, text)
        if record is not None:
            return record
    at = _logfmt_start(text)
    if at >= 0:
        pairs = _fast_pairs(text[at:] if at else text)
        if "msg" in pairs or "level" in pairs:
            msg = pairs.get("msg", "")
            db = pairs.get("db") or (pairs.get("path") if msg == "initialized db" else None)
            level = pairs.get("level")
            return LogRecord(  # positional: this runs once per line of a big log
                number,
                text,
                pairs.get("time") or _first_timestamp(text[:at]),
                _LEVEL_OF.get(level) or _level(level) if level else None,
                msg,
                db or None,
                pairs.get("error"),
                pairs,
                True,
            )
    go = _GO_TEXT.search(text) if ("INFO " in text or "ERROR " in text or "WARN " in text or "DEBUG " in text) else None
    if go:
        rest = text[go.end() :]
        first = _FIRST_PAIR.search(rest)
        msg = rest[: first.start()].strip() if first else rest.strip()
        pairs = _fast_pairs(rest[first.start() :]) if first else {}
        pairs.setdefault("msg", msg)
        pairs.setdefault("level", go.group(2))
        if go.group(1):  # with its date, the shape is evidence of the release (see versions)
            pairs["go_text"] = "1"
            pairs.setdefault("time", go.group(1))
        return LogRecord(
            line=number,
            raw=text,
            time=pairs.get("time") or _first_timestamp(text[: go.start()]),
            level=go.group(2),
            msg=msg,
            db=pairs.get("db") or (pairs.get("path") if msg == "initialized db" else None),
            error=pairs.get("error"),
            fields=pairs,
            logfmt=True,
        )
    error = _ERROR_PREFIX.match(text)
    if error:
        return LogRecord(line=number, raw=text, time=_first_timestamp(text), level="ERROR", msg=text[error.end() :])
    prefix = _PLAIN_PREFIX.match(text)
    body = text[prefix.end() :] if prefix else text
    return LogRecord(line=number, raw=text, time=_first_timestamp(text[: prefix.end()] if prefix else ""), msg=body)


def _continues(previous: LogRecord, raw: str) -> dict[str, str] | None:
    """The pairs of a wrapped continuation of `previous`, e.g. the second line of the incident's
    `level=ERROR msg="sync error" db=…` / `error="checkpoint: …"`, or None."""
    text = raw.strip()
    if not previous.logfmt or not _STARTS_WITH_PAIR.match(text) or _logfmt_start(text) >= 0:
        return None
    pairs, only_pairs = parse_pairs(text[:MAX_LINE])
    if not only_pairs or any(key in previous.fields for key in pairs):
        return None
    return pairs


def _joined(previous: LogRecord, raw: str, extra: Mapping[str, str]) -> LogRecord:
    fields = {**previous.fields, **extra}
    return LogRecord(
        line=previous.line,
        raw=f"{previous.raw} {raw.strip()}",
        time=previous.time or fields.get("time"),
        level=previous.level,
        msg=previous.msg,
        db=previous.db or fields.get("db"),
        error=previous.error or fields.get("error"),
        fields=fields,
        logfmt=previous.logfmt,
    )


def _sdk_continued(previous: LogRecord, raw: str) -> LogRecord:
    """`previous` with an AWS SDK `status code: …` line appended to its error (or plain message)."""
    tail = raw.strip()[-MAX_LINE:]
    m = _SDK_CONTINUATION.search(tail)
    tail = tail[m.start() :].lstrip("|:] \t") if m else tail
    if previous.logfmt:
        error = f"{previous.error}\n\t{tail}" if previous.error else tail
        return LogRecord(
            line=previous.line,
            raw=f"{previous.raw} {tail}",
            time=previous.time,
            level=previous.level,
            msg=previous.msg,
            db=previous.db,
            error=error,
            fields={**previous.fields, "error": error},
            logfmt=True,
        )
    return LogRecord(
        line=previous.line,
        raw=f"{previous.raw} {tail}",
        time=previous.time,
        level=previous.level,
        msg=f"{previous.msg}\n\t{tail}",
    )


class Counter:
    """How many non-blank lines a stream had: `records` counts them while it yields."""

    def __init__(self) -> None:
        self.lines = 0


def records(lines: Iterable[str], counter: Counter | None = None) -> Iterator[LogRecord]:
    """Every record in a stream of lines, joining wrapped continuations to the record before them.

    Holds one record back (the one a continuation could still extend), nothing more.
    """
    count = counter or Counter()
    pending: LogRecord | None = None
    number = 0
    for number, raw in enumerate(lines, start=1):
        if not raw or raw.isspace():
            count.lines -= 1  # counted below as number - blank lines, without a per-line attribute write
            continue
        if pending is not None:
            if (
                ("status code: " in raw or "For verbose" in raw or "caused by: " in raw or "upload id: " in raw)
                and _SDK_CONTINUATION.search(raw)
                and _logfmt_start(raw) < 0
            ):
                pending = _sdk_continued(pending, raw)
                continue
            if pending.logfmt and (raw[0].isalpha() or raw[0] in " \t_") and "=" in raw:
                extra = _continues(pending, raw)
                if extra is not None:
                    pending = _joined(pending, raw, extra)
                    continue
        record = parse_line(number, raw)
        if record is None:
            continue
        if pending is not None:
            yield pending
        pending = record
    count.lines += number
    if pending is not None:
        yield pending


def parse(text: str) -> tuple[int, list[LogRecord]]:
    """Every record in `text`, and how many non-blank lines it had."""
    counter = Counter()
    found = list(records(text.splitlines(), counter))
    return counter.lines, found


def read_lines(handle: BinaryIO, name: str, block: int = 1 << 20) -> Iterator[str]:
    """The lines of a binary stream, decoded (bad UTF-8 becomes U+FFFD), each cut at MAX_LINE."""
    return itertools.chain.from_iterable(read_blocks(handle, name, block))


def read_blocks(handle: BinaryIO, name: str, block: int = 1 << 20) -> Iterator[list[str]]:
    """The lines of a binary stream, a block's worth at a time (one generator step per block, not per line).

    Reads blocks of `block` bytes and decodes every complete line of a block at once; only the
    unfinished last line is carried over, and of an overlong line only its first MAX_LINE bytes.
    Raises CannotInspect (exit 3) when a line runs past MAX_LINE_RUN bytes: that input is not a
    log, and reading on would only burn time (or, on `/dev/zero`, never end).
    """
    carry = b""
    overlong = 0  # bytes of the current line skipped so far (0: not in an overlong line)
    read = getattr(handle, "read1", handle.read)  # read1: a pipe's lines are explained as they arrive
    while True:
        data = read(block)
        if not data:
            break
        end = data.rfind(b"\n")
        if end < 0:  # no line ends in this block
            if overlong:
                overlong += len(data)
            else:
                carry += data
                if len(carry) > MAX_LINE:
                    yield [carry[:MAX_LINE].decode("utf-8", errors="replace")]
                    overlong = len(carry) - MAX_LINE
                    carry = b""
            if overlong > MAX_LINE_RUN:
                raise CannotInspect(
                    f"cannot read {name}: more than {MAX_LINE_RUN >> 20} MiB without a line break, "
                    "this is not a text log",
                    "pass the log file (or pipe it in with -); a device or binary file cannot be explained",
                )
            continue
        head, rest = data[: end + 1], data[end + 1 :]
        if overlong:  # the overlong line ends in this block: drop its tail
            head = head[head.find(b"\n") + 1 :]
            overlong = 0
        lines = (carry + head).decode("utf-8", errors="replace").split("\n")
        lines.pop()  # the empty string after the last newline
        yield [line if len(line) <= MAX_LINE else line[:MAX_LINE] for line in lines]
        carry = rest
        if len(carry) > MAX_LINE:
            yield [carry[:MAX_LINE].decode("utf-8", errors="replace")]
            overlong = len(carry) - MAX_LINE
            carry = b""
    if carry and not overlong:
        yield [carry.decode("utf-8", errors="replace")]
