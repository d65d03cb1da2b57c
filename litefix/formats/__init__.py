"""Byte-level readers for the files litefix inspects. Pure parsing: bytes in, facts out."""
