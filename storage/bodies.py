"""How raw bodies are kept: most versions of a page share most of their bytes.

A page's first body (a keyframe) is stored zstd-compressed (zlib in older databases); each
later body is compressed with zstd using the latest keyframe as a raw-content dictionary, so a
new version costs roughly what changed. A body that shares too little with its keyframe becomes the next keyframe. Reading any
body needs at most its keyframe: no chains.
"""

from __future__ import annotations

import zlib

import zstandard

from storage.connection import Database

ZLIB, ZSTD, ZSTD_DELTA = "zlib", "zstd", "zstd-delta"
KEYFRAME_CODECS = (ZLIB, ZSTD)  # zlib: keyframes written before zstd (six times faster) took over
# As literals, word for word the condition of the snapshots_page_keyframe index (migration 32),
# so that SQLite finds a page's latest keyframe through it.
IS_KEYFRAME = f"body_codec IN ({', '.join(repr(codec) for codec in KEYFRAME_CODECS)})"


def keyframe(body: bytes) -> bytes:
    """`body` stored whole, as a keyframe (codec ZSTD)."""
    return zstandard.ZstdCompressor(level=3).compress(body)


def pack(db: Database, page_id: int, body: bytes, keyframe_blob: bytes | None = None) -> dict:
    """The columns (`body_zlib`, `body_codec`, `body_base_id`) that store `body` for `page_id`.
    `keyframe_blob` is `keyframe(body)` when the caller has it already."""
    keyframe_blob = keyframe_blob or keyframe(body)
    base = db.execute(  # the page's latest keyframe, by one lookup (snapshots_page_keyframe)
        f"SELECT id, body_zlib, body_codec FROM snapshots WHERE page_id = ? AND {IS_KEYFRAME}"
        " ORDER BY id DESC LIMIT 1",
        [page_id],
    ).fetchone()
    if base is not None:
        delta = _compressor(_whole(base[1], base[2])).compress(body)
        if len(delta) < len(keyframe_blob) / 2:
            return {"body_zlib": delta, "body_codec": ZSTD_DELTA, "body_base_id": base[0]}
    return {"body_zlib": keyframe_blob, "body_codec": ZSTD, "body_base_id": None}


def unpack(db: Database, blob: bytes, codec: str, base_id: int | None) -> bytes:
    if codec in KEYFRAME_CODECS:
        return _whole(blob, codec)
    base = db.execute("SELECT body_zlib, body_codec FROM snapshots WHERE id = ?", [base_id]).fetchone()
    dictionary = zstandard.ZstdCompressionDict(_whole(*base), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(blob)


def _whole(blob: bytes, codec: str) -> bytes:
    """A keyframe's body."""
    return zlib.decompress(blob) if codec == ZLIB else zstandard.ZstdDecompressor().decompress(blob)


def _compressor(keyframe: bytes) -> zstandard.ZstdCompressor:
    dictionary = zstandard.ZstdCompressionDict(keyframe, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdCompressor(level=3, dict_data=dictionary)
