"""``hardmo-hf pipeline ingest | mine | optimize`` end to end, on real datatrove workers, into the builder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hardmo_hf.cli import main
from hardmo_hf.data.readers.label_tree import list_units, read_unit
from hardmo_hf.data.record import Reject
from hardmo_hf.safe_pickle import load_pickle


def _tree_bytes(tree):
    return {p.relative_to(tree): p.read_bytes() for p in sorted(tree.rglob("*.pyd"))}


@pytest.fixture(scope="module")
def pipeline_output(raw_sample, synthetic_smpl_dir, tmp_path_factory):
    raw, summary = raw_sample
    out = tmp_path_factory.mktemp("pipeline_output")
    smpl = str(synthetic_smpl_dir)
    assert main(["pipeline", "ingest", str(raw), "--out", str(out), "--workers", "2"]) == 0
    # Mine with low thresholds so this small sample has several Foot and Hand cases.
    assert (
        main(
            [
                "pipeline",
                "mine",
                str(out),
                "--smpl",
                smpl,
                "--foot-threshold",
                "0.015",
                "--hand-threshold",
                "0.02",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "pipeline",
                "optimize",
                str(out),
                "--stage",
                "foot",
                "--smpl",
                smpl,
                "--tasks",
                "2",
                "--iterations",
                "60",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "pipeline",
                "optimize",
                str(out),
                "--stage",
                "hand",
                "--smpl",
                smpl,
                "--tasks",
                "2",
                "--iterations",
                "60",
            ]
        )
        == 0
    )
    return out, summary


def test_the_builder_reads_normal_foot_and_hand_without_rejects(pipeline_output):
    out, summary = pipeline_output
    mined = {
        name: (out / "reports" / "mining" / f"{name}.txt").read_text().split() for name in ("foot", "hand")
    }
    assert len(mined["foot"]) >= 3 and len(mined["hand"]) >= 3
    records = [r for unit in list_units(out) for r in read_unit(out, unit)]
    assert [r for r in records if isinstance(r, Reject)] == []
    by_subset = {s: [r for r in records if r.subset == s] for s in ("normal", "foot", "hand")}
    assert len(by_subset["normal"]) == summary.people_written
    for name in ("foot", "hand"):
        assert sorted(r.sample_id for r in by_subset[name]) == sorted(mined[name])
        for record in by_subset[name]:
            assert record.raw_body_pose is not None  # the dataset carries both labels
            assert record.extra["extra_info"]["optimization"]["stages"]
    assert sum(r.is_foot for r in by_subset["normal"]) == len(mined["foot"])


def test_reports_show_the_optimization_helped(pipeline_output):
    out, _ = pipeline_output
    for stage, stages in (("foot", ["foot"]), ("hand", ["hand_body", "hand"])):
        report = json.loads((out / "reports" / f"optimize_{stage}.json").read_text())
        assert report["stages"] == stages
        assert report["written"] == report["samples"] > 0
        assert report["target_error_after"]["mean"] < 0.6 * report["target_error_before"]["mean"]
        assert report["body_error_after"]["mean"] <= report["body_error_before"]["mean"] + 1e-4
    sample = (out / "reports" / "mining" / "foot.txt").read_text().split()[0]
    optimized = load_pickle(out / "foot" / f"{sample}.pyd")
    raw = load_pickle(out / "normal" / f"{sample}.pyd")
    moved = np.abs(optimized["body_pose"] - raw["body_pose"]).reshape(24, 3).max(1)
    assert set(np.nonzero(moved)[0]) <= {4, 5, 7, 8, 10, 11}
    np.testing.assert_array_equal(optimized["keypoints_2d"], raw["keypoints_2d"])


def test_rerun_resumes_the_unfinished_task_with_the_same_bytes(pipeline_output, synthetic_smpl_dir):
    out, _ = pipeline_output
    before = _tree_bytes(out / "foot")
    first, last = min(before), max(before)  # task 0 and task 1 of 2 (contiguous shards)
    (out / "foot" / first).unlink()  # as if task 0 had died before writing this label
    (marker,) = out.glob("reports/logs/optimize-foot-*/completions/00000")
    marker.unlink()
    untouched = (out / "foot" / last).stat().st_mtime_ns
    args = [
        "pipeline",
        "optimize",
        str(out),
        "--stage",
        "foot",
        "--smpl",
        str(synthetic_smpl_dir),
        "--tasks",
        "2",
        "--iterations",
        "60",
    ]
    assert main(args) == 0
    assert _tree_bytes(out / "foot") == before
    assert (out / "foot" / last).stat().st_mtime_ns == untouched  # task 1 was complete: not rerun
    assert main(args) == 0  # everything complete: nothing to do, the report is still written


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["pipeline", "ingest", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "missing: raw pipeline folder not found" in capsys.readouterr().err
    (tmp_path / "raw").mkdir()
    assert main(["pipeline", "ingest", str(tmp_path / "raw"), "--out", str(tmp_path / "out")]) == 2
    assert "no clips found" in capsys.readouterr().err
    assert (
        main(
            [
                "pipeline",
                "optimize",
                str(tmp_path / "out"),
                "--stage",
                "hand",
                "--smpl",
                str(tmp_path),
                "--hand-stages",
                "wrist",
            ]
        )
        == 2
    )


def test_hardmo_hf_build_takes_the_output_as_it_is(pipeline_output, tmp_path):
    out, summary = pipeline_output
    dataset = tmp_path / "hardmo"
    assert main(["build", str(out), "--out", str(dataset), "--no-progress"]) == 0
    manifest = json.loads((dataset / "manifest.json").read_text())
    mined = {
        name: len((out / "reports" / "mining" / f"{name}.txt").read_text().split())
        for name in ("foot", "hand")
    }
    expected = summary.people_written + mined["foot"] + mined["hand"]  # Foot / Hand rows beside Normal
    assert manifest["counts"] == {"accepted": expected, "input": expected, "rejected": 0}
    rows = {}
    for shard in manifest["shards"]:
        subset = shard["path"].split("/")[1]
        rows[subset] = rows.get(subset, 0) + shard["num_rows"]
    assert rows == {"normal": summary.people_written, **mined}
    assert main(["validate", str(dataset)]) == 0
