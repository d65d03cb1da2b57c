"""Byte-level readers for the files litefix inspects. Pure parsing: bytes in, facts out."""


class FormatError(ValueError):
    """Bytes that are not what their format says: the base of every reader's error, so that a caller
    catches one class (a ValueError, for callers that predate it)."""
