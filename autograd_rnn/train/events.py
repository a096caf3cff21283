"""TensorBoard scalars of a run, written without TensorBoard: the few bytes an event file holds.

An event file is a sequence of TFRecords, each::

    uint64 length | uint32 masked_crc32c(length) | payload | uint32 masked_crc32c(payload)

(little-endian; ``masked_crc(x) = ((c >> 15) | (c << 17)) + 0xa282ead8 mod 2^32`` with ``c`` the
CRC-32C of ``x``), whose payloads are ``Event`` protocol buffers: the first holds only the file
version ``brain.Event:2``, each other a wall time, a step and a ``Summary`` of ``(tag,
simple_value)`` pairs. The fields used, by number and wire type::

    Event:         1 wall_time (double, 64-bit)   2 step (int64, varint)
                   3 file_version (string)        5 summary (Summary, length-delimited)
    Summary:       1 value (Summary.Value, repeated, length-delimited)
    Summary.Value: 1 tag (string)                 2 simple_value (float, 32-bit)

TensorBoard reads any file whose name contains ``tfevents``; a run writes one,
:data:`EVENTS_FILE`, only when the ``tensorboard`` package is installed (:func:`installed`).
"""

from __future__ import annotations

import importlib.util
import struct

EVENTS_FILE = "events.out.tfevents.autograd_rnn"
FILE_VERSION = b"brain.Event:2"


def installed() -> bool:
    """Whether the ``tensorboard`` package is installed (looked up, not imported)."""
    return importlib.util.find_spec("tensorboard") is not None


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        c = byte
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # the Castagnoli polynomial, reflected
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``; ``crc32c(b"123456789") == 0xE3069283``."""
    c = 0xFFFFFFFF
    for byte in data:
        c = _TABLE[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(payload: bytes) -> bytes:
    """One TFRecord around ``payload``."""
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc(length)) + payload + struct.pack("<I", masked_crc(payload))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def event(wall_time: float, step: int | None = None, scalars: dict[str, float] | None = None,
          file_version: bytes | None = None) -> bytes:
    """One Event as a TFRecord: a wall time (seconds since the epoch), and a step with its scalars
    ``{tag: value}`` or the file version."""
    body = b"\x09" + struct.pack("<d", wall_time)
    if step is not None:
        body += b"\x10" + _varint(step)
    if file_version is not None:
        body += _bytes_field(3, file_version)
    if scalars:
        values = b"".join(_bytes_field(1, _bytes_field(1, tag.encode()) + b"\x15" + struct.pack("<f", value))
                          for tag, value in scalars.items())
        body += _bytes_field(5, values)
    return record(body)


def header(wall_time: float) -> bytes:
    """The file's first event: its version."""
    return event(wall_time, file_version=FILE_VERSION)


__all__ = ["EVENTS_FILE", "installed", "crc32c", "masked_crc", "record", "event", "header"]
