"""ZIP bombs shaped like XLSX workbooks, built in a fraction of a second (never committed as files)."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

CONTENT_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                 b'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
                 b'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>')


def xlsx_bomb(path: Path, *, real: int, claimed: int | None = None) -> Path:
    """An XLSX-shaped ZIP whose one sheet inflates to `real` bytes (rounded up to 16 MiB) while both
    its headers claim `claimed` (default: the true size).

    The sheet is one 16 MiB chunk (a tag every 64 KiB, spaces between) repeated: deflated once and
    ended with a full flush, so its compressed block is byte-identical each time and the archive is
    written by hand without compressing gigabytes here (the reader still inflates every byte)."""
    member = "xl/worksheets/sheet1.xml"
    chunk = (b"<x/>" + b" " * ((1 << 16) - 4)) * (1 << 8)
    deflate = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH) == block  # a full flush restarts
    count = -(-real // len(chunk))
    claimed = count * len(chunk) if claimed is None else claimed
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    types = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    entries = [("[Content_Types].xml", [types.compress(CONTENT_TYPES) + types.flush()], zlib.crc32(CONTENT_TYPES),
                len(CONTENT_TYPES)),
               (member, [block] * count + [deflate.flush()], crc, claimed)]
    central, offset = [], 0
    with path.open("wb") as out:
        for name, parts, checksum, size in entries:
            raw = name.encode()
            compressed = sum(len(part) for part in parts)
            fields = (20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, checksum, compressed, size, len(raw))
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + raw)
            out.writelines(parts)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, 0, offset)
                           + raw)
            offset += 30 + len(raw) + compressed
        directory = b"".join(central)
        out.write(directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                                          len(directory), offset, 0))
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo(member).file_size == claimed
        assert archive.read("[Content_Types].xml") == CONTENT_TYPES
    return path
