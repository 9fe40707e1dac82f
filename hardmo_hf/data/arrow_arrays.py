"""Arrow arrays straight from numpy buffers and Python lists, without ``pyarrow.array``, and back.

``pa.array`` asks whether its argument is a pandas object, which imports pandas the first time (~0.25 s of CPU);
build workers would each pay that for nothing. These constructors wrap the buffers with
``pa.Array.from_buffers`` instead, and give the same arrays (so the same Parquet bytes).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["binary_array", "bool_array", "fixed_list_array", "numeric_array", "numeric_values"]

_INT32_MAX = 2**31 - 1


def numeric_array(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A primitive array of ``type_`` (int32, int64, uint64, float32 ...) from a 1-D numpy array of that type."""
    values = np.ascontiguousarray(values, dtype=type_.to_pandas_dtype())
    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(values)])


def bool_array(values: np.ndarray) -> pa.Array:
    """A boolean array from a 1-D numpy bool array (bit-packed, least significant bit first)."""
    values = np.asarray(values, dtype=bool)
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])


def binary_array(values: list, type_: pa.DataType | None = None) -> pa.Array:
    """A ``binary`` array of ``bytes`` (``type_`` None or ``pa.binary()``) or a ``string`` array of ``str``
    (``pa.string()``), all values present."""
    type_ = pa.binary() if type_ is None else type_
    if pa.types.is_string(type_):
        values = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
    if offsets[-1] > _INT32_MAX:
        raise ValueError(f"{offsets[-1]:,} bytes do not fit one {type_} array (2 GiB at most): write smaller batches")
    data = b"".join(values)
    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(offsets.astype(np.int32)),
                                                      pa.py_buffer(data)])


def fixed_list_array(values: np.ndarray, shape: tuple[int, ...], nulls: np.ndarray | None = None) -> pa.Array:
    """``(n, *shape)`` float32 -> nested fixed-size lists of float32; ``nulls`` ``(n,)`` marks null rows."""
    array = numeric_array(np.asarray(values, dtype=np.float32).reshape(-1), pa.float32())
    for depth, size in enumerate(reversed(shape)):
        outer = depth == len(shape) - 1
        array = pa.FixedSizeListArray.from_arrays(array, size, mask=bool_array(nulls) if outer and nulls is not None
                                                  else None)
    return array


def numeric_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of a primitive Arrow array or chunked array without nulls, as one numpy array (read from the
    buffers: ``to_numpy`` may import pandas)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    dtype = column.type.to_pandas_dtype()
    parts = []
    for chunk in chunks:
        if chunk.null_count:
            raise ValueError("numeric_values reads arrays without nulls")
        values = np.frombuffer(chunk.buffers()[1], dtype=dtype, count=chunk.offset + len(chunk))
        parts.append(values[chunk.offset:])
    return np.concatenate(parts) if parts else np.zeros(0, dtype)
