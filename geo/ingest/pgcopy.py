"""PostgreSQL binary COPY payloads built from Arrow columns, without a Python loop over rows.

A binary COPY row is: field count (int16), then per field its length (int32, -1 for
NULL) and its bytes, all big-endian (PostgreSQL docs, "COPY", Binary Format). Each
field is turned into one or two Arrow binary arrays ("pieces"); interleaving every
piece row by row with one ``take`` makes an array whose data buffer *is* the COPY
body. Loaders use it to stream large batches at C speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
# PostgreSQL dates count days from 2000-01-01, Arrow date32 from 1970-01-01.
_PG_EPOCH_DAYS = 10_957


@dataclass(frozen=True)
class Field:
    """A column to encode: ``kind`` is text, bytes, bool, int4, float8 or date."""

    values: pa.Array
    kind: str


def _from_bytes(raw: bytes | np.ndarray, size: int, n: int) -> pa.Array:
    # Through fixed_size_binary: numpy "S" arrays would drop trailing zero bytes.
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(size), n, [None, pa.py_buffer(raw)])
    return fixed.cast(pa.binary())


def _constant(value: bytes, n: int) -> pa.Array:
    return _from_bytes(value * n, len(value), n)


def _fixed(values: np.ndarray, dtype: str) -> pa.Array:
    """Big-endian bytes of each value, as a binary array."""
    raw = np.ascontiguousarray(values, dtype=dtype)
    return _from_bytes(raw, raw.dtype.itemsize, len(raw))


def _pieces(field: Field, n: int) -> list[pa.Array]:
    values = field.values
    null = values.is_null().to_numpy(zero_copy_only=False) if values.null_count else None
    if field.kind in ("text", "bytes"):
        data = pc.cast(values, pa.binary())
        lengths = pc.fill_null(pc.binary_length(data), 0).to_numpy(zero_copy_only=False)
        if null is not None:
            lengths = np.where(null, -1, lengths)
            data = pc.fill_null(data, b"")
        return [_fixed(lengths, ">i4"), data]
    if field.kind == "bool":
        numbers = pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(np.uint8)
        size, dtype = 1, "u1"
    elif field.kind == "int4":
        numbers, size, dtype = pc.fill_null(values, 0).to_numpy(zero_copy_only=False), 4, ">i4"
    elif field.kind == "float8":
        numbers, size, dtype = pc.fill_null(values, 0).to_numpy(zero_copy_only=False), 8, ">f8"
    elif field.kind == "date":
        days = pc.cast(pc.cast(values, pa.date32()), pa.int32())
        numbers = pc.fill_null(days, 0).to_numpy(zero_copy_only=False) - _PG_EPOCH_DAYS
        size, dtype = 4, ">i4"
    else:
        raise ValueError(f"unknown COPY field kind {field.kind!r}")
    lengths = np.full(n, size, dtype=np.int64)
    encoded = _fixed(numbers, dtype)
    if null is not None:
        lengths = np.where(null, -1, lengths)
        encoded = pc.if_else(pa.array(null), pa.scalar(b"", pa.binary()), encoded)
    return [_fixed(lengths, ">i4"), encoded]


def encode_rows(fields: list[Field]) -> memoryview:
    """The binary COPY body (rows only) of equally long columns."""
    n = len(fields[0].values)
    if any(len(f.values) != n for f in fields):
        raise ValueError("COPY columns must have the same length")
    pieces = [_constant(len(fields).to_bytes(2, "big"), n)]
    for field in fields:
        pieces += _pieces(field, n)
    k = len(pieces)
    stacked = pa.concat_arrays(pieces)
    # Row-major order: row 0's pieces, then row 1's… (index = piece * n + row).
    order = (np.arange(k, dtype=np.int64)[None, :] * n + np.arange(n)[:, None]).ravel()
    rows = stacked.take(pa.array(order))
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1)
    return memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]


def encode(fields: list[Field]) -> bytes:
    """A complete binary COPY stream: signature, rows, trailer."""
    return SIGNATURE + bytes(encode_rows(fields)) + TRAILER
