"""The build: accounting, determinism, kill-and-resume, faults, duplicates across tasks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import types
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from hardmo_hf.data import readers
from hardmo_hf.data.build import (
    KILL_ENV,
    AccountingError,
    BuildConfig,
    BuildPlan,
    build,
    default_num_tasks,
    finalize,
    plan_build,
    task_bounds,
)
from hardmo_hf.data.record import Reject

from .helpers import dataset_files, make_record

REPO = Path(__file__).resolve().parents[2]


def _rejects(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "rejects.jsonl").read_text().splitlines()]


def test_every_input_record_is_a_row_or_a_reject(built, sample_pipeline_output):
    out, stats = built
    _, summary = sample_pipeline_output
    counts = stats["counts"]
    assert counts["input"] == summary.input_records
    assert counts["input"] == counts["accepted"] + counts["rejected"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_rows"] == counts["accepted"] == sum(s["num_rows"] for s in manifest["shards"])
    rejects = _rejects(out)
    assert len(rejects) == counts["rejected"]
    # every deliberately bad record is rejected for its reason; the filters reject the few-keypoint one
    by_source = {r["source"]: r["reason"] for r in rejects}
    for bad in summary.bad_records:
        assert by_source[bad["path"]] == bad["reason"], bad
    expected = Counter(summary.expected_rejects)
    expected["few_keypoints"] += summary.expected_filter.get("few_keypoints", 0)
    assert Counter(r["reason"] for r in rejects) == expected
    assert stats["reject_reasons"] == dict(expected)
    # rows per subset = what the reader yields minus what the filters rejected
    rows = Counter()
    for shard in manifest["shards"]:
        rows[shard["subset"]] += shard["num_rows"]
    assert sum(rows.values()) == sum(summary.expected_records.values()) - summary.expected_filter["few_keypoints"]
    assert stats["filter_outcomes"]["betas_out_of_range"] == summary.expected_filter["betas_out_of_range"]


def test_two_builds_give_the_same_bytes_whatever_the_workers(built, sample_pipeline_output, tmp_path):
    out, _ = built
    root, _ = sample_pipeline_output
    build(BuildConfig(str(root), str(tmp_path / "hardmo")), workers=1, progress=False)
    first, second = dataset_files(out), dataset_files(tmp_path / "hardmo")
    assert sorted(first) == sorted(second)
    assert [p for p in first if first[p] != second[p]] == []
    assert "README.md" in first and "preview.png" in first and any(p.endswith(".parquet") for p in first)


def test_forkserver_workers_give_the_same_bytes(built, sample_pipeline_output, tmp_path):
    out, _ = built
    root, _ = sample_pipeline_output
    build(BuildConfig(str(root), str(tmp_path / "hardmo")), workers=2, progress=False, start_method="forkserver")
    assert dataset_files(tmp_path / "hardmo") == dataset_files(out)


def _cli_build(root, out, env=None, extra=()):
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hardmo_hf.cli", "build", str(root), "--out", str(out), "--workers", "2",
         "--no-progress", *extra],
        env=env, capture_output=True, text=True, start_new_session=True, timeout=300, check=False,
    )


def test_a_killed_build_resumes_to_the_same_bytes(sample_pipeline_output, tmp_path):
    root, _ = sample_pipeline_output
    target, reference = tmp_path / "hardmo", tmp_path / "reference"
    three_tasks = ("--tasks", "3")
    assert _cli_build(root, reference, extra=three_tasks).returncode == 0
    # SIGKILL the whole build (main process and workers) once task 2 (of 3) has read 3 records: task 2 starts when
    # task 0 or 1 has finished, and has written part of its shards
    killed = _cli_build(root, target, {KILL_ENV: "2:3"}, extra=three_tasks)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    plan = BuildPlan.load(target)
    completions = list((target / ".build/logs/shards/completions").glob("*"))
    assert 0 < len(completions) < plan.num_tasks
    assert not (target / "manifest.json").exists()
    resumed = _cli_build(root, target, extra=three_tasks)
    assert resumed.returncode == 0, resumed.stderr
    assert "input = accepted + rejected" in resumed.stdout
    assert not list(target.rglob("*.tmp"))
    assert dataset_files(target) == dataset_files(reference)


def test_a_killed_task_leaves_shards_that_the_rerun_replaces(sample_pipeline_output, tmp_path):
    root, _ = sample_pipeline_output
    target = tmp_path / "hardmo"
    config = BuildConfig(str(root), str(target), tasks=2, row_group_mb=1e-5, shard_mb=1e-5)
    killed = subprocess.run(
        [sys.executable, "-c", ("import sys; from hardmo_hf.data.build import *; "
                               f"plan_build(BuildConfig(**{config.__dict__!r})); run_task(sys.argv[1], 0)"),
         str(target)],
        env={**os.environ, "PYTHONPATH": str(REPO), KILL_ENV: "0:20"}, capture_output=True, text=True,
        start_new_session=True, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    partial = sorted(p.name for p in target.rglob("00000-*.parquet*"))
    assert partial  # finished shards (and maybe a temporary one) of the unfinished task
    build(config, workers=1, progress=False)
    reference = tmp_path / "reference"
    build(BuildConfig(str(root), str(reference), tasks=2, row_group_mb=1e-5, shard_mb=1e-5), workers=1,
          progress=False)
    assert dataset_files(target) == dataset_files(reference)


def test_resuming_with_other_parameters_is_refused(built, sample_pipeline_output):
    out, _ = built
    root, _ = sample_pipeline_output
    assert plan_build(BuildConfig(str(root), str(out))).params == BuildPlan.load(out).params
    with pytest.raises(ValueError, match="seed"):
        plan_build(BuildConfig(str(root), str(out), seed=1))


def test_output_over_a_foreign_folder_is_refused(sample_pipeline_output, tmp_path):
    root, _ = sample_pipeline_output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a hardmo-hf build"):
        plan_build(BuildConfig(str(root), str(tmp_path / "mine")))
    with pytest.raises(ValueError, match="inside the input"):
        plan_build(BuildConfig(str(root), str(root / "out")))
    with pytest.raises(ValueError, match="confidence threshold"):
        BuildConfig(str(root), str(tmp_path / "x"), confidence_threshold=0.4)


def test_finalize_fails_loudly_when_records_go_missing(built_copy):
    summary_path = built_copy / ".build/tasks/00000.json"
    summary = json.loads(summary_path.read_text())
    summary["counts"]["input"] += 2  # two records read but neither written nor rejected
    summary_path.write_text(json.dumps(summary))
    with pytest.raises(AccountingError, match="2 record"):
        finalize(built_copy)


def test_finalize_needs_every_task(built_copy):
    (built_copy / ".build/tasks/00000.json").unlink()
    with pytest.raises(RuntimeError, match="did not complete"):
        finalize(built_copy)


def test_task_partition():
    assert task_bounds(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert task_bounds(2, 2) == [(0, 1), (1, 2)]
    assert [default_num_tasks(n) for n in (1, 64, 65, 150, 10_000)] == [1, 1, 2, 3, 157]


# ----------------------------------------------------------------------------------------------------
# A reader made up for the test: units of records with chosen ids, duplicates and faults
# ----------------------------------------------------------------------------------------------------
def _fake_reader(units: dict[str, list]):
    def list_units(root, **options):
        return sorted(units)

    def read_unit(root, unit, **options):
        for item in units[unit]:
            if isinstance(item, Exception):
                raise item
            yield item

    return types.SimpleNamespace(FORMAT="fake", OPTIONS=(), list_units=list_units, read_unit=read_unit)


def test_duplicates_across_tasks_are_rejected_once(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    image = make_record(rng).image_bytes

    def rec(unit, frame, person=0, subset="normal", category="ballet", subject="s1", **fields):
        return make_record(rng, frame_index=frame, person_id=person, subset=subset, category=category,
                           subject_id=subject, image_bytes=image, source=f"{unit}/{frame}_{person}.pyd", **fields)

    units = {
        "u0": [rec("u0", 0), rec("u0", 1), rec("u0", 1, subset="foot", is_foot=True)],
        "u1": [rec("u1", 1), rec("u1", 2, category="bad name"), Reject("u1/x.pyd", "wrong_shape", "made up")],
        "u2": [rec("u2", 0), rec("u2", 0, subset="hand"), rec("u2", 3, subject="s2")],
        "u3": [rec("u3", 4, subject="s3")],
    }
    monkeypatch.setitem(readers.READERS, "fake", _fake_reader(units))
    (tmp_path / "input").mkdir()
    out = tmp_path / "hardmo"
    stats = build(BuildConfig(str(tmp_path / "input"), str(out), format="fake", tasks=4), workers=1,
                  progress=False)
    rejects = _rejects(out)
    assert stats["counts"] == {"input": 10, "accepted": 6, "rejected": 4}
    assert Counter(r["reason"] for r in rejects) == {"duplicate_sample_id": 2, "invalid_record": 1,
                                                     "wrong_shape": 1}
    duplicated = {(r["source"], r["sample_id"]) for r in rejects if r["reason"] == "duplicate_sample_id"}
    assert duplicated == {("u1/1_0.pyd", "ballet/0001/000001_0"), ("u2/0_0.pyd", "ballet/0001/000000_0")}
    assert any("also comes from u0/1_0.pyd" in r["detail"] for r in rejects)
    ids = []
    for path in sorted(out.glob("data/normal/*/*/*.parquet")):
        ids += pq.read_table(path, columns=["sample_id"]).column("sample_id").to_pylist()
    assert sorted(ids) == ["ballet/0001/000000_0", "ballet/0001/000001_0", "ballet/0001/000003_0",
                           "ballet/0001/000004_0"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_rows"] == 6
    # finalize again: same result (the rewrite of the shards is idempotent)
    before = dataset_files(out)
    finalize(out)
    assert dataset_files(out) == before


def test_a_reader_failure_stops_the_build_with_the_unit(tmp_path, monkeypatch):
    boom = FileNotFoundError("u1: clip folder vanished")
    monkeypatch.setitem(readers.READERS, "fake", _fake_reader({"u0": [], "u1": [boom]}))
    (tmp_path / "input").mkdir()
    with pytest.raises(FileNotFoundError, match="u1: clip folder vanished"):
        build(BuildConfig(str(tmp_path / "input"), str(tmp_path / "hardmo"), format="fake"), workers=1,
              progress=False)
    assert not (tmp_path / "hardmo" / "manifest.json").exists()


def test_webdataset_tars_with_a_repeated_shard(sample_pipeline_output, tmp_path):
    """4D-Humans tars (the authors' distribution format): a shard present twice is rejected key by key."""
    from hardmo_hf.data.readers import label_tree
    from hardmo_hf.data.validate import validate
    from hardmo_hf.data.writers import frame_key, write_webdataset

    root, _ = sample_pipeline_output
    records = [r for unit in label_tree.list_units(root, subsets="normal")
               for r in label_tree.read_unit(root, unit, subsets="normal") if not isinstance(r, Reject)]
    tars = write_webdataset(records, tmp_path / "tars", frames_per_shard=20)
    shutil.copy(tars[0], tmp_path / "tars" / "zz-copy-of-first.tar")
    with tarfile.open(tars[0]) as first:
        keys = {name[: -len(".data.pyd")] for name in first.getnames() if name.endswith(".data.pyd")}
    copied = sum(1 for r in records if frame_key(r) in keys)  # person records in the repeated shard
    out = tmp_path / "hardmo"
    stats = build(BuildConfig(str(tmp_path / "tars"), str(out), tasks=len(tars) + 1), workers=2, progress=False)
    assert stats["input_format"] == "webdataset"
    assert stats["counts"]["input"] == len(records) + copied
    assert stats["reject_reasons"]["duplicate_sample_id"] == copied
    assert stats["counts"]["accepted"] == len(records) - stats["reject_reasons"].get("few_keypoints", 0)
    report = validate(out)
    assert report.ok, report.failure_summary()
    assert "no rows for foot_p1, foot_p2, hand" in next(c.detail for c in report.checks if c.name == "splits present")
    assert "the clip is the subject" in (out / "README.md").read_text()  # no subject map given


def test_image_completeness_check():
    import io

    from PIL import Image

    from hardmo_hf.data.build import image_is_complete

    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    jpeg, png = io.BytesIO(), io.BytesIO()
    picture.save(jpeg, format="JPEG")
    picture.save(png, format="PNG")
    jpeg, png = jpeg.getvalue(), png.getvalue()
    assert image_is_complete(jpeg, "jpeg") and image_is_complete(png, "png")
    assert image_is_complete(jpeg + b"\0\0", "jpeg")  # padding after the end marker
    assert image_is_complete(jpeg + b"trailer after EOI", "jpeg")  # no marker at the end, but decodes
    for cut in (len(jpeg) // 2, len(jpeg) - 2):
        assert not image_is_complete(jpeg[:cut], "jpeg")
    assert not image_is_complete(png[: len(png) - 20], "png")
    with pytest.raises(ValueError, match="image check"):
        BuildConfig("in", "out", image_check="none")


def test_the_card_documents_the_build(built):
    from huggingface_hub import DatasetCard

    from hardmo_hf.constants import CITATION, PROTOCOLS
    from hardmo_hf.data.schema import COLUMN_DOCS

    out, stats = built
    text = (out / "README.md").read_text()
    card = DatasetCard.load(out / "README.md").data.to_dict()
    assert card["license"] == "cc-by-sa-4.0" and card["size_categories"] == ["n<1K"]
    assert {"keypoint-detection", "image-to-3d"} <= set(card["task_categories"])
    assert [c["config_name"] for c in card["configs"]] == ["normal", "foot_p1", "foot_p2", "hand"]
    assert "repeats its image bytes" in text and CITATION in text and "![" in text
    assert "Subjects come from the subject map" in text  # the sample has subjects.json
    for protocol in PROTOCOLS.values():
        assert protocol in text
    for column in COLUMN_DOCS:
        assert f"`{column}`" in text
    for folder in stats["folders"].values():  # the statistics table has every subset x category x split
        assert f"| {folder['subset']} | {folder['category']} |" in text


def test_the_card_dataset_info_is_what_datasets_writes(built):
    from datasets import DatasetInfo, SplitDict, SplitInfo

    from hardmo_hf.constants import CONFIGS, SPLITS
    from hardmo_hf.data.card import card_metadata
    from hardmo_hf.data.schema import features

    out, _ = built
    manifest = json.loads((out / "manifest.json").read_text())
    stats = json.loads((out / "stats.json").read_text())
    expected = []
    for config in CONFIGS:  # the card's order (stats.json has sorted keys)
        splits = stats["configs"][config]
        split_dict = SplitDict()
        for split in SPLITS:
            split_dict.add(SplitInfo(name=split, num_bytes=splits[split]["bytes"],
                                     num_examples=splits[split]["rows"]))
        size = sum(entry["bytes"] for entry in splits.values())
        info = DatasetInfo(features=features(), splits=split_dict, download_size=size, dataset_size=size,
                           config_name=config)
        expected.append(info._to_yaml_dict())
    infos = card_metadata(manifest, stats)["dataset_info"]
    assert json.dumps(infos) == json.dumps(expected)  # same keys in the same order, same values and types


@pytest.mark.parametrize(("workers", "unwanted"), [(1, ("datasets",)), (2, ("datasets", "pandas"))])
def test_a_build_leaves_datasets_and_pandas_unimported(sample_pipeline_output, tmp_path, workers, unwanted):
    # importing datasets (and pandas through it) cost every build ~0.7 s of serial time. With workers=1 the tasks
    # run in this process too; pyarrow imports pandas for its Python -> Arrow conversions, so only forked tasks
    # (workers=2) leave the main process free of pandas.
    root, _ = sample_pipeline_output
    code = ("import sys; from hardmo_hf.data.build import BuildConfig, build; "
            "build(BuildConfig(sys.argv[1], sys.argv[2]), workers=int(sys.argv[3]), progress=False); "
            f"print([name for name in {unwanted!r} if name in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code, str(root), str(tmp_path / "hardmo"), str(workers)],
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_workers_release_memory_only_past_the_slack(monkeypatch):
    """After a task a worker hands memory back only once it holds RELEASE_SLACK_BYTES more than after its last
    release (each release makes the next task fault its pages in again)."""
    from hardmo_hf.data import build as build_module

    resident = {"now": 500 * build_module.MB}
    trims = []
    monkeypatch.setattr(build_module, "_resident_bytes", lambda: resident["now"])
    monkeypatch.setattr(build_module, "_rss_after_release", None)
    monkeypatch.setattr(build_module.gc, "collect", lambda: trims.append(resident["now"]))
    build_module._release_task_memory()  # the first task always releases
    slack = build_module.RELEASE_SLACK_BYTES
    for grown in (slack // 2, slack - 1, slack, slack // 2):
        resident["now"] = 500 * build_module.MB + grown
        build_module._release_task_memory()
    assert trims == [500 * build_module.MB, 500 * build_module.MB + slack]
