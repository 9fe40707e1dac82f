"""``hardmo-hf validate``: passes on a build, and each kind of damage fails its check with a clear message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hardmo_hf.cli import main
from hardmo_hf.data.shards import file_sha256, parquet_writer_options
from hardmo_hf.data.validate import validate


def _failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if not c.ok}


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def _first_shard(root: Path, prefix: str) -> dict:
    return next(s for s in _manifest(root)["shards"] if s["path"].startswith(prefix))


def _rewrite(root: Path, entry: dict, transform, new_path: str | None = None) -> None:
    """Rewrite a shard through ``transform(table) -> table`` (valid Parquet) and keep the manifest in step."""
    old = root / entry["path"]
    table = transform(pq.read_table(old))
    new = root / (new_path or entry["path"])
    new.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, new, **parquet_writer_options(table.schema))
    if new != old:
        old.unlink()
    manifest = _manifest(root)
    for shard in manifest["shards"]:
        if shard["path"] == entry["path"]:
            shard.update(path=new.relative_to(root).as_posix(), num_rows=table.num_rows,
                         num_bytes=new.stat().st_size, sha256=file_sha256(new))
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_a_fresh_build_validates(built):
    out, stats = built
    report = validate(out, workers=2)
    assert report.ok, report.failure_summary()
    names = [c.name for c in report.checks]
    for name in ("checksums", "schema", "row counts", "images", "subjects", "foot_p2", "foot stored once", "card",
                 "accounting"):
        assert name in names
    text = report.text()
    assert "All checks passed." in text and "foot_p2" in text
    assert [row[:3] for row in report.configs if row[0] == "foot_p2"] == [
        ["foot_p2", split, stats["configs"]["foot_p2"][split]["rows"]] for split in ("train", "test")]


def test_flipped_byte_fails_the_checksum(built_copy):
    entry = _first_shard(built_copy, "data/normal/train")
    path = built_copy / entry["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    failed = _failed(validate(built_copy))
    assert "SHA-256" in failed["checksums"] and entry["path"] in failed["checksums"]


def test_missing_stray_and_partial_files_fail(built_copy):
    entry = _first_shard(built_copy, "data/hand/")
    (built_copy / entry["path"]).unlink()
    shutil.copy(built_copy / _first_shard(built_copy, "data/normal/")["path"],
                built_copy / "data/normal/train/ballet/99999-0000.parquet")
    (built_copy / "data/normal/train/ballet/00000-0042.parquet.tmp").write_bytes(b"half a shard")
    detail = _failed(validate(built_copy))["files"]
    assert f"{entry['path']}: listed in the manifest but missing" in detail
    assert "99999-0000.parquet: not in the manifest" in detail
    assert "temporary file" in detail


def test_a_truncated_image_fails_with_its_sample_id(built_copy):
    entry = _first_shard(built_copy, "data/foot/")

    def truncate(table):
        images = table.column("image").combine_chunks()
        data = images.field("bytes").to_pylist()
        data[0] = data[0][: len(data[0]) // 3]
        fixed = pa.StructArray.from_arrays([pa.array(data, pa.binary()), images.field("path")],
                                           fields=list(images.type))
        return table.set_column(table.schema.get_field_index("image"), table.schema.field("image"), fixed)

    sample_id = pq.read_table(built_copy / entry["path"]).column("sample_id")[0].as_py()
    _rewrite(built_copy, entry, truncate)
    failed = _failed(validate(built_copy))
    assert set(failed) == {"images"}
    assert sample_id in failed["images"] and "does not decode" in failed["images"]


def test_a_shard_in_the_wrong_split_fails_placement_subjects_and_card(built_copy):
    shards = [s for s in _manifest(built_copy)["shards"] if s["path"].startswith("data/normal/train/")]
    subjects = {s["path"]: set(pq.read_table(built_copy / s["path"], columns=["subject_id"])["subject_id"].to_pylist())
                for s in shards}
    # a shard whose subjects also have rows in other train shards
    entry = next(s for s in shards if subjects[s["path"]] & set().union(*(v for k, v in subjects.items()
                                                                          if k != s["path"])))
    _rewrite(built_copy, entry, lambda t: t, new_path=entry["path"].replace("/train/", "/test/", 1))
    failed = _failed(validate(built_copy))
    assert "belongs to the other split" in failed["placement"]
    assert "is in train and test" in failed["subjects"]
    assert "card says" in failed["card"]


def test_a_test_class_row_in_a_p2_train_folder_fails(built_copy):
    entry = _first_shard(built_copy, "data/foot/train/jazz/")

    def relabel(table):
        index = table.schema.get_field_index("category")
        return table.set_column(index, "category", pa.array(["samba"] * table.num_rows, pa.string()))

    _rewrite(built_copy, entry, relabel)
    failed = _failed(validate(built_copy))
    assert "category != 'jazz'" in failed["placement"]
    assert "class 'samba' is in train and test" in failed["foot_p2"]


def test_card_and_accounting_damage_fail(built_copy):
    card = (built_copy / "README.md").read_text()
    (built_copy / "README.md").write_text(card.replace("data/foot/*/samba/*.parquet", "data/foot/*/rumba/*.parquet"))
    with open(built_copy / "rejects.jsonl", "a") as handle:
        handle.write('{"source": "x.pyd", "reason": "made_up", "detail": "", "sample_id": ""}\n')
    failed = _failed(validate(built_copy))
    assert "foot_p2: card data_files" in failed["card"]
    assert "rejects.jsonl has" in failed["accounting"]


def test_not_a_dataset(tmp_path):
    report = validate(tmp_path)
    assert not report.ok and "manifest.json does not exist" in report.failure_summary()


def test_cli_exit_codes(built, built_copy, capsys):
    out, _ = built
    assert main(["validate", str(out), "--workers", "1"]) == 0
    assert "All checks passed." in capsys.readouterr().out
    (built_copy / _first_shard(built_copy, "data/normal/")["path"]).unlink()
    assert main(["validate", str(built_copy), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert "VALIDATION FAILED" in captured.out and "FAILED: files:" in captured.err


def test_unreadable_manifest(built_copy):
    (built_copy / "manifest.json").write_text("{not json")
    assert "invalid JSON" in validate(built_copy).failure_summary()
