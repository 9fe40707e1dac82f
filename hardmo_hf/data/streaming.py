"""Fast iteration over a streamed HardMo split: Arrow batches in, one sample per person out, each frame decoded once.

``iter(load_dataset(..., streaming=True))`` is the reference way to read HardMo, and it works everywhere. It pays
two costs that a training or evaluation loop does not need to pay:

* datasets formats one row at a time: each row becomes a 1-row Arrow table, then Python lists of floats (a
  ``(133, 3)`` keypoint array is 399 float objects), ~150-300 us per row before any image is decoded (~25 us
  here);
* a frame with two people is stored as two rows (one person per row, the unit models train on), and each row
  decodes its image on its own, so such a frame is decoded twice. 4D-Humans' webdataset loader decodes a frame
  once and emits one sample per person.

:func:`iter_samples` reads the same stream (``dataset.with_format("arrow").iter(batch_size)``: the same files,
row order, shuffling and ``datasets`` options) and converts a whole batch at once: every array column becomes one
float32 numpy array of the batch (1,024 rows), and each sample gets a row of it; rows of one frame are adjacent in the shards
(the build writes a frame's people in order), so each frame is decoded once and its rows share the decoded image.

A sample is a dict with the dataset's columns (:mod:`hardmo_hf.data.schema`):

* ``image``: ``PIL.Image.Image`` decoded like datasets' ``Image`` feature (EXIF orientation applied, original
  mode); rows of the same frame get the *same* object, so treat it as read-only (``crop``, ``resize`` and
  ``convert`` return new images). With ``decode_images=False``: ``{"bytes": ..., "path": ...}``.
* array columns: writable ``np.ndarray`` float32 of the schema's shape (e.g. ``keypoints_2d`` ``(44, 3)`` px +
  confidence), or ``None`` where the column is null (``keypoints_3d``, ``raw_*`` ...);
* other columns: ``str``, ``int``, ``float``, ``bool``.

:class:`SampleStream` wraps it as a ``torch.utils.data.IterableDataset`` for a ``DataLoader``: each worker reads
its own shards (``IterableDataset.shard``), as datasets does for its own iterable datasets.
``benchmarks/bench_streaming.py`` measures both paths against a PIL loop and 4D-Humans-style tars.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import torch

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_BATCH_SIZE", "SampleStream", "decode_image", "iter_samples", "table_to_samples"]

# Rows taken from datasets at a time: datasets and the column conversions cost ~1 ms per batch, so 1,024 rows make
# that ~1 us a row; a batch adds ~5 KB of numpy arrays per row (images stay in the Arrow data datasets holds).
DEFAULT_BATCH_SIZE = 1024


# Where PIL's getexif() finds an orientation; images without any of these skip it (its cost shows per frame).
_ORIENTATION_SOURCES = frozenset({"exif", "xmp", "XML:com.adobe.xmp", "Raw profile type exif"})


def decode_image(data: bytes):
    """Decode encoded image bytes as datasets' ``Image`` feature does: load fully, apply the EXIF orientation."""
    import PIL.Image
    import PIL.ImageOps

    image = PIL.Image.open(io.BytesIO(data))
    image.load()
    if not _ORIENTATION_SOURCES.isdisjoint(image.info) and \
            image.getexif().get(PIL.Image.ExifTags.Base.Orientation) is not None:
        image = PIL.ImageOps.exif_transpose(image)
    return image


def _fixed_shape(type_: pa.DataType) -> tuple[int, ...]:
    """``(44, 3)`` for ``fixed_size_list<fixed_size_list<float>[3]>[44]``; ``()`` for a non-list type."""
    shape = []
    while pa.types.is_fixed_size_list(type_):
        shape.append(type_.list_size)
        type_ = type_.value_type
    return tuple(shape)


def _fixed_list_column(array: pa.FixedSizeListArray, shape: tuple[int, ...]) -> list:
    """One writable float32 array of ``shape`` per row (``None`` for a null row), all rows copied at once."""
    num_rows = len(array)
    values, start, stop = array, array.offset, array.offset + num_rows
    for size in shape:  # fixed-size lists keep a slot for every row, null or not: index the leaf values directly
        values, start, stop = values.values, start * size, stop * size
    leaf = values.slice(start, stop - start).to_numpy(zero_copy_only=False)
    batch = np.array(leaf, dtype=np.float32).reshape(num_rows, *shape)  # one copy: writable, owned by the batch
    if not array.null_count:
        return list(batch)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return [row if ok else None for row, ok in zip(batch, valid)]


def table_to_samples(table: pa.Table) -> Iterator[dict]:
    """Rows of a HardMo Arrow table as sample dicts (image still encoded: ``{"bytes", "path"}``).

    A generator, converting one record batch at a time: a consumer holds one sample (and one decoded image) at a
    time, and each row's image bytes are copied out of Arrow only when its sample is made.
    """
    for batch in table.to_batches():
        yield from _batch_to_samples(batch)


def _batch_to_samples(batch: pa.RecordBatch) -> Iterator[dict]:
    columns, image = {}, None
    for name, array in zip(batch.schema.names, batch.columns):
        shape = _fixed_shape(array.type)
        if shape:
            columns[name] = _fixed_list_column(array, shape)
        elif name == "image" and pa.types.is_struct(array.type):
            image = array
            columns[name] = range(len(array))  # the row index; bytes are taken row by row below
        else:
            columns[name] = array.to_pylist()
    if image is not None:
        image_bytes, image_paths = image.field("bytes"), image.field("path").to_pylist()
        image_valid = image.is_valid().to_numpy(zero_copy_only=False)
    names = list(columns)
    for values in zip(*columns.values()):
        sample = dict(zip(names, values))
        if image is not None:
            row = sample["image"]
            sample["image"] = ({"bytes": image_bytes[row].as_py(), "path": image_paths[row]} if image_valid[row]
                               else None)
        yield sample


def iter_samples(dataset, batch_size: int = DEFAULT_BATCH_SIZE, decode_images: bool = True) -> Iterator[dict]:
    """Samples of a streamed (or in-memory) HardMo split, converted a batch at a time, each frame decoded once.

    ``dataset`` is what ``load_dataset("hardmo", config, split=..., streaming=True)`` returns (any
    ``datasets.IterableDataset`` or ``Dataset`` with the HardMo columns; shuffle it before, not after). A frame's
    decoded image is reused by the following rows with the same image ``path`` and bytes.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    last_path, last_bytes, last_image = None, None, None
    for table in dataset.with_format("arrow").iter(batch_size=batch_size):
        for sample in table_to_samples(table):
            encoded = sample.get("image")
            if decode_images and encoded is not None:
                if encoded["path"] != last_path or encoded["bytes"] != last_bytes:
                    last_path, last_bytes = encoded["path"], encoded["bytes"]
                    last_image = decode_image(last_bytes)
                sample["image"] = last_image
            yield sample


class SampleStream(torch.utils.data.IterableDataset):
    """:func:`iter_samples` as a ``torch`` ``IterableDataset``: in a ``DataLoader``, each worker reads its shards.

    ``transform`` (optional) maps each sample in the worker (crop, augment, to tensors). A split needs at least as
    many shards (files x row groups) as workers; extra workers get none and stop, with a warning.
    """

    def __init__(self, dataset, transform=None, batch_size: int = DEFAULT_BATCH_SIZE, decode_images: bool = True):
        super().__init__()
        self.dataset = dataset
        self.transform = transform
        self.batch_size = batch_size
        self.decode_images = decode_images

    def _worker_dataset(self):
        worker = torch.utils.data.get_worker_info()
        if worker is None or worker.num_workers == 1:
            return self.dataset
        num_shards = self.dataset.num_shards
        if worker.id >= num_shards:
            if worker.id == num_shards:
                logger.warning("%d DataLoader workers but the split has %d shard(s): %d worker(s) get no data",
                               worker.num_workers, num_shards, worker.num_workers - num_shards)
            return None
        return self.dataset.shard(num_shards=min(worker.num_workers, num_shards), index=worker.id,
                                  contiguous=False)

    def __iter__(self):
        dataset = self._worker_dataset()
        if dataset is None:
            return
        for sample in iter_samples(dataset, self.batch_size, self.decode_images):
            yield sample if self.transform is None else self.transform(sample)
