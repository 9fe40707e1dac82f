"""Reader of the authors' label tree / the annotation pipeline's output (``docs/pipeline_output_format.md``).

Layout (``PIPELINE_OUTPUT``)::

    normal/<category>/<clip_id>/<frame>.jpeg|jpg|png        the frames
    normal/<category>/<clip_id>/<frame>_<person>.pyd        raw pseudo-label of one person (a dict, or [dict])
    foot/<category>/<clip_id>/<frame>_<person>.pyd          optimized label of a HardMo-Foot sample
    hand/<category>/<clip_id>/<frame>_<person>.pyd          optimized label of a HardMo-Hand sample
    subjects.json | subjects.csv                            optional clip -> subject map

A bare authors' tree (``<category>/<clip_id>/...`` directly under the root, no ``normal/``) is read as the
``normal`` tree; its Foot / Hand trees are then passed with ``foot_root`` / ``hand_root``.

Work units are ``"<subset>/<category>/<clip_id>"`` (one clip of one subset). A ``normal`` unit yields one
record per raw label (``subset="normal"``; ``is_foot`` / ``is_hand`` tell whether the sample also has an
optimized label). A ``foot`` / ``hand`` unit yields one record per optimized label (``subset="foot"|"hand"``)
with the raw label of the same sample in ``raw_*`` and the image of the ``normal`` tree. Every label file and
every image without a label ends as a record or a :class:`~hardmo_hf.data.record.Reject`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...constants import SUBSETS
from ...safe_pickle import PickleLoadError, UnsafePickleError, load_pickle
from ..block import CHUNK_ITEMS, RecordBlock, RecordChunk
from ..record import PersonRecord, Reject, format_sample_id
from ._common import (
    IMAGE_CHECKS,
    IMAGE_EXTENSIONS,
    ImageInfo,
    RecordError,
    cached_subject_map,
    check_option,
    parse_options,
    probe_image,
    subject_for,
)
from ._label_columns import parse_person_labels

FORMAT = "label_tree"
SUBJECT_MAP_NAMES = ("subjects.json", "subjects.csv")
LABEL_SUFFIX = ".pyd"
LABEL_NAME = re.compile(r"^(?P<frame>\d+)_(?P<person>\d+)\.pyd$")  # <frame>_<person>.pyd
_IMAGE_NAME = re.compile(r"^(?P<frame>\d+)$")
# A well-formed label or (lower-case) image name: (frame, person, None) or (None, None, frame stem)
_RECORD_NAME = re.compile(r"(\d+)_(\d+)\.pyd\Z|(\d+)\.(?:jpeg|jpg|png)\Z")
_SMPL_POSE_KEYS = ("body_pose", "global_orient", "has_body_pose")
_SMPL_BETA_KEYS = ("betas", "has_betas")

logger = logging.getLogger(__name__)

__all__ = ["FORMAT", "LABEL_NAME", "OPTIONS", "LabelTreeLayout", "list_units", "read_unit", "read_units_chunks",
           "resolve_layout"]


@dataclass(frozen=True)
class LabelTreeLayout:
    """Where the trees of one pipeline output are (``None``: that subset has no tree)."""

    root: Path
    normal: Path
    foot: Path | None
    hand: Path | None
    subject_map: Path | None

    def tree(self, subset: str) -> Path | None:
        return {"normal": self.normal, "foot": self.foot, "hand": self.hand}[subset]


def resolve_layout(root, foot_root=None, hand_root=None, subject_map=None) -> LabelTreeLayout:
    """Find the normal / foot / hand trees and the subject map of ``root`` (see the module docstring)."""
    root = Path(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"label tree {root} is not a directory")
    pipeline_layout = os.path.isdir(os.path.join(root, "normal"))
    normal = root / "normal" if pipeline_layout else root

    def _tree(option, name):
        if option is not None:
            path = Path(option)
            if not os.path.isdir(path):
                raise FileNotFoundError(f"{name} label tree {path} is not a directory")
            return path
        if pipeline_layout and os.path.isdir(os.path.join(root, name)):
            return root / name
        return None

    if subject_map is None:
        found = [root / name for name in SUBJECT_MAP_NAMES if os.path.isfile(os.path.join(root, name))]
        if len(found) > 1:
            raise ValueError(f"{root} has both {SUBJECT_MAP_NAMES[0]} and {SUBJECT_MAP_NAMES[1]}: keep one")
        subject_map = found[0] if found else None
    elif not isinstance(subject_map, (str, os.PathLike)):
        raise TypeError("subject_map must be a path to a .json or .csv file")
    return LabelTreeLayout(root, normal, _tree(foot_root, "foot"), _tree(hand_root, "hand"),
                           Path(subject_map) if subject_map is not None else None)


@dataclass(frozen=True)
class _Options:
    subsets: tuple[str, ...] = SUBSETS
    foot_root: str | None = None
    hand_root: str | None = None
    subject_map: str | None = None
    image_check: str = "decode"
    strict_keys: bool = True

    def __post_init__(self):
        for subset in self.subsets:
            check_option("subset", subset, SUBSETS)
        check_option("image_check", self.image_check, IMAGE_CHECKS)


OPTIONS = tuple(f.name for f in dataclasses.fields(_Options))  # the keyword options of both calls


def _options(options: dict) -> _Options:
    subsets = options.get("subsets", SUBSETS)
    options = {**options, "subsets": (subsets,) if isinstance(subsets, str) else tuple(subsets)}
    return parse_options(_Options, options, "label_tree")


def list_units(root, **options) -> list[str]:
    """Sorted work units ``"<subset>/<category>/<clip_id>"`` of the label tree at ``root``."""
    opts = _options(options)
    layout = resolve_layout(root, opts.foot_root, opts.hand_root, opts.subject_map)
    units = []
    for subset in opts.subsets:
        tree = layout.tree(subset)
        if tree is None:
            continue
        for category in _subdirs(tree):
            for clip in _subdirs(tree / category):
                units.append(f"{subset}/{category}/{clip}")
    return sorted(units)


def _subdirs(path: Path) -> list[str]:
    names = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                names.append(entry.name)
            else:
                logger.debug("ignoring %s (records live in <category>/<clip_id>/ folders)", entry.path)
    return sorted(names)


# ----------------------------------------------------------------------------------------------------
# Reading one unit
# ----------------------------------------------------------------------------------------------------
@dataclass
class _Clip:
    """The files of one clip folder, classified."""

    labels: dict[tuple[int, int], list[str]]  # (frame, person) -> label file names, sorted
    images: dict[str, list[str]]  # frame stem -> image file names, by extension preference
    rejects: list[tuple[tuple, Reject]]  # (sort key, reject) for files that are not records


def _scan_clip(directory: str, rel: str, allow_images: bool) -> _Clip:
    labels: dict[tuple[int, int], list[str]] = {}
    images: dict[str, list[str]] = {}
    rejects: list[tuple[tuple, Reject]] = []
    try:
        with os.scandir(directory) as entries:
            names = sorted((entry.name, entry.is_dir()) for entry in entries if not entry.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return _Clip(labels, images, rejects)
    for name, is_dir in names:
        match = None if is_dir else _RECORD_NAME.match(name)
        if match is not None:  # the common case, classified as below would
            frame, person, image_frame = match.groups()
            if person is not None:
                labels.setdefault((int(frame), int(person)), []).append(name)
                continue
            if allow_images:
                images.setdefault(image_frame, []).append(name)
                continue
        source = f"{rel}/{name}"
        stem, suffix = os.path.splitext(name)
        suffix = suffix.lower()
        if is_dir:
            rejects.append(((-1, -1, 0, name), Reject(source, "unexpected_file", "a folder inside a clip folder")))
        elif suffix == LABEL_SUFFIX:  # a well-named label took the fast path above
            rejects.append(((-1, -1, 0, name), Reject(source, "bad_file_name",
                                                   "label names are <frame>_<person>.pyd (digits)")))
        elif suffix in IMAGE_EXTENSIONS and allow_images:
            if _IMAGE_NAME.match(stem) is None:
                rejects.append(((-1, -1, 0, name), Reject(source, "bad_file_name",
                                                       "image names are <frame>.jpeg|jpg|png (digits)")))
                continue
            images.setdefault(stem, []).append(name)
        else:
            what = "an image in an optimized-label tree (images live in normal/)" if suffix in IMAGE_EXTENSIONS \
                else "not an image or a .pyd label"
            rejects.append(((-1, -1, 0, name), Reject(source, "unexpected_file", what)))
    for names in labels.values():
        if len(names) > 1:
            names.sort(key=lambda n: (-len(n), n))  # the zero-padded name first
    for stem, files in images.items():
        if len(files) == 1:
            continue
        files.sort(key=lambda n: IMAGE_EXTENSIONS.index(os.path.splitext(n)[1].lower()))
        for extra in files[1:]:
            rejects.append(((int(stem), -1, 0, extra), Reject(
                f"{rel}/{extra}", "duplicate_image", f"frame {stem} also has {files[0]}, which is used")))
    return _Clip(labels, images, rejects)


class _ImageCache:
    """Reads and checks the image of one frame at a time (records come in frame order)."""

    def __init__(self, directory: str, rel: str, check: str):
        self.directory, self.rel, self.check = directory, rel, check
        self._key: str | None = None
        self._value: tuple[bytes, ImageInfo] | RecordError | None = None

    def get(self, name: str) -> tuple[bytes, ImageInfo]:
        if name != self._key:
            self._key = name
            try:
                with open(os.path.join(self.directory, name), "rb", buffering=0) as handle:
                    data = handle.read()  # unbuffered: one read of the whole file
                self._value = (data, probe_image(data, self.check))
            except RecordError as exc:
                self._value = exc
            except OSError as exc:
                self._value = RecordError("unreadable_image", f"{type(exc).__name__}: {exc}")
        if isinstance(self._value, RecordError):
            raise RecordError(self._value.reason, f"{self.rel}/{name}: {self._value.detail}")
        return self._value


def _load_label_dict(path: str, source: str) -> dict:
    try:
        value = load_pickle(path, source=source)
    except UnsafePickleError as exc:
        raise RecordError("unsafe_pickle", str(exc)) from None
    except PickleLoadError as exc:
        raise RecordError("unreadable_label", str(exc)) from None
    except OSError as exc:
        raise RecordError("unreadable_label", f"{source}: {exc}") from None
    if isinstance(value, list):
        if len(value) != 1:
            raise RecordError("multiple_labels_in_person_file" if value else "wrong_type",
                              f"a per-person label file holds a list of {len(value)} entries (1 expected)")
        value = value[0]
    if not isinstance(value, dict):
        raise RecordError("wrong_type", f"label is a {type(value).__name__}, expected a dict")
    return value


def read_unit(root, unit: str, **options) -> Iterator[PersonRecord | Reject]:
    """Records and rejects of one unit ``"<subset>/<category>/<clip_id>"``, in a stable order.

    Options (the same for :func:`list_units`): ``subsets``, ``foot_root``, ``hand_root``, ``subject_map``
    (a .json/.csv path; default ``subjects.json|csv`` in ``root``), ``image_check`` (``"decode"`` | ``"header"``),
    ``strict_keys`` (unknown label keys reject the record; ``False`` ignores them).
    """
    for _, chunk, extras in _read_batches(root, [unit], options):
        records = chunk.block.to_records(FORMAT, extras)
        items: list[tuple[int, PersonRecord | Reject]] = [*zip(chunk.positions.tolist(), records), *chunk.rejects]
        items.sort(key=lambda item: item[0])
        for _, item in items:
            yield item


def read_units_chunks(root, units: list[str], **options) -> Iterator[tuple[int, RecordChunk]]:
    """The records and rejects of ``units`` (in order, as :func:`read_unit` gives them) as ``(units finished,
    chunk)`` pairs: chunks of about ``CHUNK_ITEMS`` records that may span units (a clip can be a few frames), whose
    labels are parsed together (:mod:`._label_columns`). The build's path."""
    for done, chunk, _ in _read_batches(root, units, options):
        yield done, chunk


def _open_unit(layout: LabelTreeLayout, unit: str, opts: _Options, subjects: dict[str, str] | None) -> _ClipReader:
    """The reader of ``unit``; ``subjects`` is the layout's subject map, loaded once per read (not per unit)."""
    try:
        subset, category, clip_id = unit.split("/")
    except ValueError:
        raise ValueError(f"label_tree unit must be '<subset>/<category>/<clip_id>', got {unit!r}") from None
    check_option("subset", subset, SUBSETS)
    tree = layout.tree(subset)
    if tree is None:
        raise FileNotFoundError(f"{layout.root}: no {subset} label tree for unit {unit!r}")
    if not os.path.isdir(os.path.join(tree, category, clip_id)):
        raise FileNotFoundError(f"{tree / category / clip_id} does not exist (unit {unit!r})")
    try:
        subject: str | RecordError = subject_for(category, clip_id, subjects)
    except RecordError as exc:  # every record of the clip is rejected with it
        subject = exc
    return _ClipReader(layout, subset, category, clip_id, subject, opts)


def _read_batches(root, units: list[str], options: dict) -> Iterator[tuple[int, RecordChunk, list[dict]]]:
    """``(units finished, chunk, the extra dict of each row)`` for runs of about ``CHUNK_ITEMS`` records."""
    opts = _options(options)
    layout = resolve_layout(root, opts.foot_root, opts.hand_root, opts.subject_map)
    subjects = cached_subject_map(layout.subject_map)
    batch: list[tuple[_ClipReader, list]] = []  # (unit, a run of its items)
    size = 0
    for done, unit in enumerate(units, start=1):
        clip = _open_unit(layout, unit, opts, subjects)
        for start in range(0, len(clip.items), CHUNK_ITEMS):
            part = clip.items[start:start + CHUNK_ITEMS]
            batch.append((clip, part))
            size += len(part)
            if size >= CHUNK_ITEMS:
                yield (done - (start + CHUNK_ITEMS < len(clip.items)), *_read_batch(batch, opts.strict_keys))
                batch, size = [], 0
    if batch:
        yield (len(units), *_read_batch(batch, opts.strict_keys))


def _read_batch(batch: list[tuple[_ClipReader, list]], strict_keys: bool) -> tuple[RecordChunk, list[dict]]:
    """One chunk of the items of ``batch``; the checks of each record run in the order of :class:`_ClipReader`."""
    rejects: list[tuple[int, Reject]] = []
    staged = []  # (clip, position, item, index of its label dict or -1, index of its raw dict or -1)
    labels: list[dict] = []
    raw_labels: list[dict] = []
    offset = 0
    for clip, items in batch:
        for position, item in enumerate(items, start=offset):
            if isinstance(item, Reject):
                rejects.append((position, item))
                continue
            try:
                loaded = clip.load(item)
            except RecordError as exc:
                rejects.append((position, exc.reject(item[3], item[4])))
                continue
            if clip.subset == "normal":
                staged.append((clip, position, item, len(labels), -1))
                labels.append(loaded)
            else:
                staged.append((clip, position, item, -1, len(raw_labels)))
                raw_labels.append(loaded)
        offset += len(items)

    raw = parse_person_labels(raw_labels, strict_keys=strict_keys)
    survivors = []
    for clip, position, item, label_index, raw_index in staged:
        if raw_index >= 0:
            try:
                if raw.errors[raw_index] is not None:
                    raise RecordError("invalid_raw_label", f"{clip.normal_rel}/{clip.raw_name(item)}: "
                                                           f"{raw.errors[raw_index]}")
                label_index = len(labels)
                labels.append(clip.load_optimized(item, raw_labels[raw_index]))
            except RecordError as exc:
                rejects.append((position, exc.reject(item[3], item[4])))
                continue
        survivors.append((clip, position, item, label_index, raw_index))
    parsed = parse_person_labels(labels, strict_keys=strict_keys)

    rows, raw_rows, positions = [], [], []
    fields: dict[str, list] = {name: [] for name in (
        "category", "clip_id", "subject_id", "subset", "frame_index", "person_id", "source", "image_bytes",
        "image_width", "image_height", "image_format", "is_foot", "is_hand")}
    for clip, position, (frame, person, name, source, sample_id), label_index, raw_index in survivors:
        try:
            if parsed.errors[label_index] is not None:
                raise parsed.errors[label_index]
            image_bytes, info = clip.image((frame, person, name))
        except RecordError as exc:
            rejects.append((position, exc.reject(source, sample_id)))
            continue
        rows.append(label_index)
        raw_rows.append(raw_index)
        positions.append(position)
        is_foot, is_hand = clip.membership(frame, person)
        for key, value in (("category", clip.category), ("clip_id", clip.clip_id), ("subject_id", clip.subject),
                           ("subset", clip.subset), ("frame_index", frame), ("person_id", person),
                           ("source", source), ("image_bytes", image_bytes), ("image_width", info.width),
                           ("image_height", info.height), ("image_format", info.format), ("is_foot", is_foot),
                           ("is_hand", is_hand)):
            fields[key].append(value)
    block = RecordBlock.from_label_columns(parsed, np.array(rows, dtype=np.intp), fields, raw=raw,
                                           raw_rows=np.array(raw_rows, dtype=np.intp))
    rejects.sort(key=lambda item: item[0])
    return RecordChunk(block, np.array(positions, dtype=np.int64), rejects), [parsed.extra[k] for k in rows]


def _members(layout: LabelTreeLayout, subset: str, category: str, clip_id: str) -> set[tuple[int, int]]:
    tree = layout.tree(subset)
    if tree is None:
        return set()
    try:
        names = os.listdir(os.path.join(tree, category, clip_id))
    except (FileNotFoundError, NotADirectoryError):
        return set()
    found = set()
    for name in names:
        match = LABEL_NAME.match(name)
        if match:
            found.add((int(match["frame"]), int(match["person"])))
    return found


def _labels_in_order(clip: _Clip, rel: str, category: str, clip_id: str, extra_rejects=()):
    """A clip's labels in (frame, person) order, interleaved with its rejects (``clip.rejects`` and
    ``extra_rejects``, both ``(sort key, Reject)`` pairs). Yields each ``Reject`` as it is and
    ``(frame, person, name, source, sample_id)`` for the first label of each sample id; a further label with the
    same id becomes a ``duplicate_sample_id`` reject."""
    items: list[tuple[tuple, object]] = list(clip.rejects) + list(extra_rejects)
    for (frame, person), names in clip.labels.items():
        for position, name in enumerate(names):
            items.append(((frame, person, position, name), (frame, person, name, position)))
    items.sort(key=lambda item: item[0])
    for _, item in items:
        if isinstance(item, Reject):
            yield item
            continue
        frame, person, name, position = item
        source = f"{rel}/{name}"
        sample_id = format_sample_id(category, clip_id, frame, person)
        if position > 0:
            yield Reject(source, "duplicate_sample_id",
                         f"{clip.labels[(frame, person)][0]} already has sample id {sample_id}", sample_id)
        else:
            yield frame, person, name, source, sample_id


class _ClipReader:
    """One unit: ``items`` are its labels (``(frame, person, name, source, sample_id)``) and the rejects of its file
    names, in order.

    A record's checks run in this order, and its reject reason is the first that fails: subject; ``normal``: the
    image is present, the label file readable, its content valid (``parse_person_label``), the image readable;
    ``foot`` / ``hand``: the raw label present, readable and valid (``invalid_raw_label``), the optimized label
    readable with a body pose or betas (``missing_key``), the merged label valid, the image present and readable.
    :func:`_read_batch` loads labels one by one, parses them a batch at a time and reads images once per frame.
    """

    def __init__(self, layout, subset, category, clip_id, subject, opts):
        self.subset, self.category, self.clip_id, self.subject = subset, category, clip_id, subject
        self.normal_dir = os.path.join(layout.normal, category, clip_id)
        self.normal_rel = f"normal/{category}/{clip_id}"
        self.normal = _scan_clip(self.normal_dir, self.normal_rel, allow_images=True)
        self.images = _ImageCache(self.normal_dir, self.normal_rel, opts.image_check)
        if subset == "normal":
            self.rel, self.directory, clip = self.normal_rel, self.normal_dir, self.normal
            self.foot = _members(layout, "foot", category, clip_id)
            self.hand = _members(layout, "hand", category, clip_id)
            labelled = {os.path.splitext(name)[0].split("_")[0] for names in clip.labels.values() for name in names}
            unlabelled = [((int(stem), -1, 0, files[0]), Reject(f"{self.rel}/{files[0]}", "missing_label",
                                                                 "an image without any <frame>_<person>.pyd label"))
                          for stem, files in clip.images.items() if stem not in labelled]
        else:
            self.rel = f"{subset}/{category}/{clip_id}"
            self.directory = os.path.join(layout.tree(subset), category, clip_id)
            clip = _scan_clip(self.directory, self.rel, allow_images=False)
            self.other = _members(layout, "hand" if subset == "foot" else "foot", category, clip_id)
            unlabelled = []
        self.items = list(_labels_in_order(clip, self.rel, category, clip_id, unlabelled))

    def load(self, item) -> dict:
        """The label dict of a ``normal`` item, the raw label dict of a ``foot`` / ``hand`` one."""
        if isinstance(self.subject, RecordError):
            raise self.subject
        frame, person, name, source, _ = item
        if self.subset == "normal":
            stem = name.split("_")[0]
            if stem not in self.normal.images:
                raise RecordError("missing_image", f"no {stem}.jpeg|jpg|png beside the label")
            return _load_label_dict(os.path.join(self.directory, name), source)
        if not self.normal.labels.get((frame, person)):
            raise RecordError("missing_raw_label", f"no {self.normal_rel}/{frame:06d}_{person}.pyd for this "
                                                   f"optimized {self.subset} label")
        raw_name = self.raw_name(item)
        try:
            return _load_label_dict(os.path.join(self.normal_dir, raw_name), f"{self.normal_rel}/{raw_name}")
        except RecordError as exc:
            raise RecordError("invalid_raw_label", f"{self.normal_rel}/{raw_name}: {exc}") from None

    def raw_name(self, item) -> str:
        return self.normal.labels[(item[0], item[1])][0]

    def load_optimized(self, item, raw_label: dict) -> dict:
        """The optimized label of a ``foot`` / ``hand`` item over its raw label."""
        optimized = _load_label_dict(os.path.join(self.directory, item[2]), item[3])
        if not any(key in optimized for key in ("body_pose", "betas")):
            raise RecordError("missing_key", f"optimized {self.subset} label has neither body_pose nor betas")
        return _merge_optimized(raw_label, optimized)

    def image(self, item) -> tuple[bytes, ImageInfo]:
        """The encoded frame of an item and its header information."""
        stem = (item[2] if self.subset == "normal" else self.raw_name(item)).split("_")[0]
        if stem not in self.normal.images:  # (a normal label was checked before loading)
            raise RecordError("missing_image", f"no {self.normal_rel}/{stem}.jpeg|jpg|png for this sample")
        return self.images.get(self.normal.images[stem][0])

    def membership(self, frame: int, person: int) -> tuple[bool, bool]:
        """``(is_foot, is_hand)`` of a sample of this clip."""
        if self.subset == "normal":
            return (frame, person) in self.foot, (frame, person) in self.hand
        other = (frame, person) in self.other
        return self.subset == "foot" or other, self.subset == "hand" or other


def _merge_optimized(raw: dict, optimized: dict) -> dict:
    """The optimized label over the raw one: SMPL keys of ``optimized`` replace the raw SMPL as a whole."""
    merged = dict(raw)
    if any(key in optimized for key in _SMPL_POSE_KEYS):
        for key in _SMPL_POSE_KEYS:
            merged.pop(key, None)
    if any(key in optimized for key in _SMPL_BETA_KEYS):
        for key in _SMPL_BETA_KEYS:
            merged.pop(key, None)
    merged.update(optimized)
    return merged
