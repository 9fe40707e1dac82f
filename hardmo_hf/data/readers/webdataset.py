"""Reader of 4D-Humans webdataset tar shards (the form in which the authors distribute HardMo training data).

A shard is a plain (or gzip) tar whose members are grouped by key (webdataset convention: the member path up
to the first dot of its file name): ``<key>.jpg|jpeg|png`` is the frame and ``<key>.data.pyd`` (or ``.pyd``)
a pickled list of person dicts with the 4D-Humans keys (``keypoints_2d`` (44,3), ``keypoints_3d`` (44,4),
``center`` (2,), ``scale`` (box / 200, scalar or per-axis (2,)), ``body_pose`` (72,), ``betas`` (10,),
``has_body_pose``, ``has_betas``, ``extra_info``; HardMo adds ``hand_keypoints_2d`` (10,3)). A
``<key>.detection.npz`` member (4D-Humans' masks) is allowed and not used.

The key names the sample: ``<category>/<clip_id>/<frame>`` or the authors' ``<category>_<clip_id>_<frame>``
(``name_pattern`` / ``category`` override this). A person's id is ``extra_info["person_id"]`` when present,
else its index in the list.

Members are streamed (never extracted); one key is held in memory at a time. Work units are the shard
files (paths relative to ``root``, sorted). Input records are the person dicts; a key whose label cannot be
read counts as one record. A truncated shard yields the records of its complete keys and a
``truncated_tar`` reject for the key it was cut in.
"""

from __future__ import annotations

import dataclasses
import tarfile
from collections.abc import Iterator
from pathlib import Path

from ...safe_pickle import PickleLoadError, UnsafePickleError, load_pickle
from ..record import PersonRecord, Reject, format_sample_id
from ._common import (
    FlatSourceOptions,
    RecordError,
    SampleNamer,
    cached_subject_map,
    parse_options,
    parse_person_label,
    probe_image,
    record_from_label,
    subject_for,
)

FORMAT = "webdataset"
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
IMAGE_MEMBERS = ("jpg", "jpeg", "png")
LABEL_MEMBERS = ("data.pyd", "pyd")
IGNORED_MEMBERS = ("detection.npz",)

__all__ = ["FORMAT", "OPTIONS", "list_units", "read_unit", "shard_paths", "split_member_name"]


_Options = FlatSourceOptions


OPTIONS = tuple(f.name for f in dataclasses.fields(_Options))  # the keyword options of both calls


def _options(options: dict) -> _Options:
    return parse_options(_Options, options, "webdataset")


def _is_shard(name: str) -> bool:
    return name.lower().endswith(TAR_SUFFIXES)


def _base(root: Path) -> Path:
    return root.parent if root.is_file() else root


def list_units(root, **options) -> list[str]:
    """Sorted shard paths (relative to ``root``, or the file name when ``root`` is one shard)."""
    _options(options)
    root = Path(root)
    if root.is_file():
        if not _is_shard(root.name):
            raise ValueError(f"{root} is not a .tar shard")
        return [root.name]
    if not root.is_dir():
        raise FileNotFoundError(f"webdataset root {root} does not exist")
    units = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and _is_shard(p.name))
    if not units:
        raise ValueError(f"{root} holds no .tar shards")
    return units


def split_member_name(name: str) -> tuple[str, str]:
    """``"a/b/000001.data.pyd"`` -> ``("a/b/000001", "data.pyd")`` (webdataset key and extension)."""
    directory, _, base = name.rpartition("/")
    stem, dot, extension = base.partition(".")
    key = f"{directory}/{stem}" if directory else stem
    return key, extension.lower() if dot else ""


def read_unit(root, unit: str, **options) -> Iterator[PersonRecord | Reject]:
    """Records and rejects of one shard, in tar order.

    Options (the same for :func:`list_units`): ``name_pattern`` (regex with groups ``category``, ``clip_id``,
    ``frame``), ``category`` (fixed category), ``subset`` (``"normal"``, or ``"foot"`` / ``"hand"`` for shards
    of optimized labels: sets ``is_foot`` / ``is_hand``), ``subject_map`` (.json/.csv path), ``image_check``,
    ``strict_keys`` (unknown label keys or members reject the sample; ``False`` ignores them).
    """
    opts = _options(options)
    namer = SampleNamer(opts.name_pattern, opts.category)
    subjects = cached_subject_map(opts.subject_map)
    path = _base(Path(root)) / unit
    if not path.is_file():
        raise FileNotFoundError(f"webdataset shard {path} does not exist")
    seen_keys: set[str] = set()
    seen_ids: set[str] = set()
    key: str | None = None
    members: dict[str, bytes] = {}
    try:
        tar = tarfile.open(path, mode="r|*")  # noqa: SIM115 (closed by the `with tar` below)
    except (tarfile.TarError, OSError) as exc:
        yield Reject(unit, "unreadable_tar", f"not a readable tar file ({exc})")
        return
    with tar:
        try:
            for info in tar:
                if not info.isfile():
                    continue
                member_key, extension = split_member_name(info.name)
                if member_key != key:
                    if key is not None:
                        yield from _flush(unit, key, members, seen_keys, seen_ids, namer, subjects, opts)
                    key, members = member_key, {}
                handle = tar.extractfile(info)
                members[extension] = handle.read() if handle is not None else b""
        except (tarfile.TarError, OSError, EOFError) as exc:
            source = f"{unit}::{key}" if key is not None else unit
            yield Reject(source, "truncated_tar", f"the shard ends inside this sample ({exc}); "
                                                  "the samples before it were read")
            return
        if key is not None:
            yield from _flush(unit, key, members, seen_keys, seen_ids, namer, subjects, opts)


def _flush(unit, key, members, seen_keys, seen_ids, namer, subjects, opts) -> Iterator[PersonRecord | Reject]:
    """The records of one key (all its members read)."""
    source = f"{unit}::{key}"
    if key in seen_keys:
        yield Reject(source, "duplicate_sample_id", "this key appears twice in the shard (members not adjacent)")
        return
    seen_keys.add(key)
    label_ext = next((ext for ext in LABEL_MEMBERS if ext in members), None)
    image_ext = next((ext for ext in IMAGE_MEMBERS if ext in members), None)
    unknown = sorted(ext for ext in members
                     if ext not in LABEL_MEMBERS + IMAGE_MEMBERS + IGNORED_MEMBERS or
                     (ext in IMAGE_MEMBERS and ext != image_ext) or (ext in LABEL_MEMBERS and ext != label_ext))
    if label_ext is None:
        shown = f"{source}.{image_ext}" if image_ext else source
        yield Reject(shown, "missing_label", f"no {key}.data.pyd member (members: {sorted(members)})")
        return
    label_source = f"{source}.{label_ext}"
    try:
        people = load_pickle(members[label_ext], source=label_source)
    except UnsafePickleError as exc:
        yield Reject(label_source, "unsafe_pickle", str(exc))
        return
    except PickleLoadError as exc:
        yield Reject(label_source, "unreadable_label", str(exc))
        return
    if isinstance(people, dict):
        people = [people]
    if not isinstance(people, list) or not people:
        yield Reject(label_source, "wrong_type", f"data.pyd holds {type(people).__name__} "
                                                 f"{'(empty)' if isinstance(people, list) else ''}, expected a "
                                                 "non-empty list of person dicts")
        return
    try:
        if unknown and opts.strict_keys:
            raise RecordError("unknown_member", f"unexpected member(s) {['.' + u for u in unknown]}")
        if image_ext is None:
            raise RecordError("missing_image", f"no {key}.jpg|jpeg|png member")
        image_bytes = members[image_ext]
        info = probe_image(image_bytes, opts.image_check)
        category, clip_id, frame = namer.parse(key)
        subject = subject_for(category, clip_id, subjects)
    except RecordError as exc:
        for index in range(len(people)):
            yield exc.reject(f"{label_source}[{index}]")
        return
    for index, person in enumerate(people):
        person_source = f"{label_source}[{index}]"
        person_id = _person_id(person, index)
        sample_id = format_sample_id(category, clip_id, frame, person_id)
        if sample_id in seen_ids:
            yield Reject(person_source, "duplicate_sample_id", f"sample id {sample_id} already read from this shard",
                         sample_id)
            continue
        seen_ids.add(sample_id)
        try:
            label = parse_person_label(person, strict_keys=opts.strict_keys)
        except RecordError as exc:
            yield exc.reject(person_source, sample_id)
            continue
        yield record_from_label(
            label, category=category, clip_id=clip_id, frame_index=frame, person_id=person_id, subject_id=subject,
            image_bytes=image_bytes, image_width=info.width, image_height=info.height, image_format=info.format,
            is_foot=opts.subset == "foot", is_hand=opts.subset == "hand", subset=opts.subset,
            source=person_source, source_format=FORMAT,
        )


def _person_id(person, index: int) -> int:
    """``extra_info["person_id"]`` when it is an integer, else the position in the list."""
    if isinstance(person, dict):
        extra = person.get("extra_info")
        if isinstance(extra, dict):
            value = extra.get("person_id")
            try:
                if value is not None and int(value) == value:
                    return int(value)
            except (TypeError, ValueError):
                pass
    return index


def shard_paths(root) -> list[Path]:
    """Absolute paths of the shards of ``root`` (for tools that read them with other libraries)."""
    base = _base(Path(root))
    return [base / unit for unit in list_units(root)]

