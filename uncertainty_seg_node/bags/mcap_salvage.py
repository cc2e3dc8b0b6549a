"""Read what can be read from an MCAP file whose end is missing (a recorder killed mid-drive).

rosbags refuses an MCAP file without its footer; a plain front-to-back scan of the records still
finds every complete message before the cut. Uncompressed chunks cut in the middle give up their
complete messages too; a compressed chunk cut in the middle is lost as a whole.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"\x89MCAP0\r\n"
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK = 0x03, 0x04, 0x05, 0x06


class TruncatedError(Exception):
    """The scan stopped before the end of the data: the file is cut or corrupt there."""


@dataclass
class SalvageScan:
    """State of one scan: channels met so far (id -> (topic, msgtype)) and how it ended."""

    channels: dict[int, tuple[str, str]] = field(default_factory=dict)
    schemas: dict[int, str] = field(default_factory=dict)
    error: str | None = None


def _string(buf: memoryview, pos: int) -> tuple[str, int]:
    (size,) = struct.unpack_from("<I", buf, pos)
    end = pos + 4 + size
    if end > len(buf):
        raise TruncatedError("string runs past its record")
    return bytes(buf[pos + 4:end]).decode("utf-8", "replace"), end


def _records(buf: memoryview) -> Iterator[tuple[int, memoryview]]:
    """(opcode, body) of each complete record in `buf`; TruncatedError where one is cut."""
    pos = 0
    while pos < len(buf):
        if pos + 9 > len(buf):
            raise TruncatedError(f"record header cut at byte {pos}")
        op = buf[pos]
        (size,) = struct.unpack_from("<Q", buf, pos + 1)
        end = pos + 9 + size
        if end > len(buf):
            if op == _OP_CHUNK:
                yield op, buf[pos + 9:]  # partial chunk: its complete messages may still be read
            raise TruncatedError(f"record of {size} bytes cut at byte {pos}")
        yield op, buf[pos + 9:end]
        pos = end


def _chunk_records(body: memoryview) -> memoryview:
    """The (decompressed) records of a chunk body; TruncatedError if they cannot be recovered."""
    if len(body) < 28:
        raise TruncatedError("chunk header cut")
    uncompressed_size, crc = struct.unpack_from("<QI", body, 16)
    compression, pos = _string(body, 28)
    if pos + 8 > len(body):
        raise TruncatedError("chunk length cut")
    (size,) = struct.unpack_from("<Q", body, pos)
    data = body[pos + 8:pos + 8 + size]
    if not compression:
        return data  # possibly partial: _records stops at the first cut record
    if len(data) < size:
        raise TruncatedError(f"{compression} chunk cut; its messages are lost")
    from rosbags.rosbag2.storage_mcap import decompress  # noqa: PLC0415

    try:
        return memoryview(decompress(bytes(data), compression, uncompressed_size, crc))
    except Exception as exc:  # corrupt compressed data: report, do not crash
        raise TruncatedError(f"chunk does not decompress: {exc}") from None


def scan_messages(
    path: Path, scan: SalvageScan, topics: set[str] | None = None
) -> Iterator[tuple[str, str, int, memoryview]]:
    """(topic, msgtype, log_time_ns, cdr_bytes) of every complete message, in file order.

    Ends normally at a clean end of data; on a cut or corrupt record sets `scan.error` and stops.
    `topics` None means all topics.
    """
    data = memoryview(path.read_bytes())  # the rare salvage path: simplicity over memory
    if bytes(data[:8]) != MAGIC:
        scan.error = "not an MCAP file (bad magic)"
        return
    try:
        yield from _scan(data[8:], scan, topics, nested=False)
    except TruncatedError as exc:
        scan.error = str(exc)
    except struct.error as exc:
        scan.error = f"corrupt record: {exc}"


def _scan(
    buf: memoryview, scan: SalvageScan, topics: set[str] | None, *, nested: bool
) -> Iterator[tuple[str, str, int, memoryview]]:
    for op, body in _records(buf):
        if op == _OP_SCHEMA:
            (sid,) = struct.unpack_from("<H", body, 0)
            scan.schemas[sid] = _string(body, 2)[0]
        elif op == _OP_CHANNEL:
            cid, sid = struct.unpack_from("<HH", body, 0)
            topic, _ = _string(body, 4)
            scan.channels[cid] = (topic, scan.schemas.get(sid, ""))
        elif op == _OP_MESSAGE:
            if len(body) < 22:
                raise TruncatedError("message record too short")
            (cid,) = struct.unpack_from("<H", body, 0)
            (log_time,) = struct.unpack_from("<Q", body, 6)
            topic, msgtype = scan.channels.get(cid, ("", ""))
            if topics is None or topic in topics:
                yield topic, msgtype, log_time, body[22:]
        elif op == _OP_CHUNK and not nested:
            yield from _scan(_chunk_records(body), scan, topics, nested=True)
        elif op == 0x02:  # footer: clean end of the file
            return
