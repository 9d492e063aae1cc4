"""How raw bodies are kept: most versions of a page share most of their bytes.

A page's first body (a keyframe) is stored zlib-compressed; each later body is compressed with
zstd using the latest keyframe as a raw-content dictionary, so a new version costs roughly what
changed. A body that shares too little with its keyframe becomes the next keyframe. Reading any
body needs at most its keyframe: no chains.
"""

from __future__ import annotations

import zlib

import sqlite_utils
import zstandard

ZLIB, ZSTD_DELTA = "zlib", "zstd-delta"


def keyframe(body: bytes) -> bytes:
    """`body` stored whole, as a keyframe."""
    return zlib.compress(body, 6)


def pack(db: sqlite_utils.Database, page_id: int, body: bytes, keyframe_blob: bytes | None = None) -> dict:
    """The columns (`body_zlib`, `body_codec`, `body_base_id`) that store `body` for `page_id`.
    `keyframe_blob` is `keyframe(body)` when the caller has it already."""
    keyframe_blob = keyframe_blob or keyframe(body)
    base = db.execute(
        "SELECT id, body_zlib FROM snapshots WHERE page_id = ? AND body_codec = ? ORDER BY id DESC LIMIT 1",
        [page_id, ZLIB],
    ).fetchone()
    if base is not None:
        delta = _compressor(zlib.decompress(base[1])).compress(body)
        if len(delta) < len(keyframe_blob) / 2:
            return {"body_zlib": delta, "body_codec": ZSTD_DELTA, "body_base_id": base[0]}
    return {"body_zlib": keyframe_blob, "body_codec": ZLIB, "body_base_id": None}


def unpack(db: sqlite_utils.Database, blob: bytes, codec: str, base_id: int | None) -> bytes:
    if codec == ZLIB:
        return zlib.decompress(blob)
    base = db.execute("SELECT body_zlib FROM snapshots WHERE id = ?", [base_id]).fetchone()
    dictionary = zstandard.ZstdCompressionDict(zlib.decompress(base[0]), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(blob)


def _compressor(keyframe: bytes) -> zstandard.ZstdCompressor:
    dictionary = zstandard.ZstdCompressionDict(keyframe, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdCompressor(level=3, dict_data=dictionary)
