"""Evaluation reports: the paper-layout Markdown table, the authors' CSV, and the model card's model-index."""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path

from .paper_results import PaperRow, paper_rows, paper_table_name

# Columns of the authors' results CSV (eval/eval_hmr.py ``save_eval_result``): one row per metric.
AUTHORS_CSV_COLUMNS = (
    "timestamp", "checkpoint_path", "exp_name", "dataset", "metric_name", "metric_value", "error", "iters_done",
)
FOOT_CONFIGS = ("foot_p1", "foot_p2")


# ----------------------------------------------------------------------------------------------------
# Formatting helpers
# ----------------------------------------------------------------------------------------------------
def _fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _pair(a, b, digits: int) -> str:
    return f"{_fmt(a, digits)} / {_fmt(b, digits)}"


def _paper_cells(row: PaperRow, config: str) -> list[str]:
    if config in FOOT_CONFIGS:
        return [_pair(*row.mpjpe, 1), _pair(*row.pa_mpjpe, 1), _pair(*row.pck_001, 2), _pair(*row.pck_005, 2)]
    if config == "hand":
        return [_pair(*row.pck_001, 3), _pair(*row.pck_005, 3)]
    return [_fmt(row.pa_mpjpe[0] if row.pa_mpjpe else None, 1), _fmt(row.mpjpe[0] if row.mpjpe else None, 1)]


def _our_cells(metrics: dict, config: str, marks: dict) -> list[str]:
    pck = metrics["pck"]
    m, p = marks.get("mpjpe", ""), marks.get("pck", "")
    if config in FOOT_CONFIGS:
        return [
            _pair(metrics["mpjpe"]["body"], metrics["mpjpe"]["foot"], 1) + m,
            _pair(metrics["pa_mpjpe"]["body"], metrics["pa_mpjpe"]["foot"], 1),
            _pair(pck["body"]["0.01"], pck["foot"]["0.01"], 2) + p,
            _pair(pck["body"]["0.05"], pck["foot"]["0.05"], 2) + p,
        ]
    if config == "hand":
        # The authors' hand evaluator reports every confident point of the 44-point layout as "body".
        return [_pair(pck["body_all"]["0.01"], pck["hand"]["0.01"], 3) + p,
                _pair(pck["body_all"]["0.05"], pck["hand"]["0.05"], 3) + p]
    return [_fmt(metrics["pa_mpjpe"]["body"], 1), _fmt(metrics["mpjpe"]["body"], 1) + m]


def _headers(config: str) -> list[str]:
    if config in FOOT_CONFIGS:
        return ["MPJPE ↓ (Body / Foot)", "PA-MPJPE ↓ (Body / Foot)", "PCK@0.01 ↑ (Body / Foot)",
                "PCK@0.05 ↑ (Body / Foot)"]
    if config == "hand":
        return ["PCK@0.01 ↑ (Body / Hand)", "PCK@0.05 ↑ (Body / Hand)"]
    return ["PA-MPJPE ↓", "MPJPE ↓"]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------------
def markdown_report(results: dict) -> str:
    """The run's results in the layout of the paper's table for its config, followed by details."""
    config = results["config"]
    metrics = results["metrics"]
    protocol = results["protocol"]
    marks, notes = {}, []
    if not protocol["paper_root"]:
        marks["mpjpe"] = " †"
        notes.append("† Not the paper's protocol: no J19 regressor was given (`--j19 SMPL_to_J19.pkl`), so MPJPE is "
                     "measured after centring on the SMPL pelvis instead of label joint 39. PA-MPJPE does not "
                     "depend on the root.")
    if protocol["pck_normalization"] != "bbox":
        marks["pck"] = " ‡"
        notes.append("‡ PCK normalised by the longest image side (the paper text's wording), not by the longest "
                     "side of the GT box as the authors' code does.")

    name = results["model_name"]
    rows = [[f"{row.method} (paper)"] + _paper_cells(row, config) for row in paper_rows(config)]
    rows.append([f"**{name}** (this run)"] + _our_cells(metrics, config, marks))
    out = [
        f"# {name} on HardMo `{config}` / `{results['split']}`",
        "",
        f"Laid out like {paper_table_name(config)}. {results['num_samples']} samples "
        f"({metrics['num_samples_3d']} with SMPL labels for the 3D errors). MPJPE and PA-MPJPE in mm; PCK over "
        "GT keypoints with confidence > 0.5, threshold as a fraction of "
        + ("the longest side of the GT box." if protocol["pck_normalization"] == "bbox" else "the longest image side."),
        "",
        _table(["Method"] + _headers(config), rows),
        "",
    ]
    out += notes + ([""] if notes else [])

    pck = metrics["pck"]
    thresholds = list(pck["body"])
    extra_headers = ["Metric"] + ["Body", "Foot", "Hand", "Body (all 25)"]
    extra_rows = [[f"PCK@{t}"] + [_fmt(pck[s][t], 3) for s in ("body", "foot", "hand", "body_all")] for t in thresholds]
    out += [
        "## All metrics",
        "",
        _table(extra_headers, extra_rows),
        "",
        f"- MPJPE (mm): body {_fmt(metrics['mpjpe']['body'], 2)}, foot {_fmt(metrics['mpjpe']['foot'], 2)}",
        (f"- PA-MPJPE (mm): body {_fmt(metrics['pa_mpjpe']['body'], 2)}, "
         f"foot {_fmt(metrics['pa_mpjpe']['foot'], 2)} (foot fitted on the six foot joints alone)"),
        f"- Angle bias (deg, SMPL elbows and wrists): {_fmt(metrics['angle_bias'], 2)}",
        f"- 2D keypoint L2 in the crop frame (authors' `mode_kpl2`): {_fmt(metrics['kpl2'], 5)}",
        f"- Root for MPJPE: {protocol['root']}",
        "",
        "## Per action class",
        "",
    ]
    cat_rows = []
    for category, m in metrics["per_category"].items():
        cat_rows.append([
            category, str(m["num_samples"]), _pair(m["mpjpe"]["body"], m["mpjpe"]["foot"], 1),
            _pair(m["pa_mpjpe"]["body"], m["pa_mpjpe"]["foot"], 1),
            " / ".join(_fmt(m["pck"][s]["0.05"], 2) for s in ("body", "foot", "hand")),
            _fmt(m["angle_bias"], 1),
        ])
    out += [
        _table(["Class", "Samples", "MPJPE (Body / Foot)", "PA-MPJPE (Body / Foot)",
                "PCK@0.05 (Body / Foot / Hand)", "Angle bias (deg)"], cat_rows),
        "",
    ]
    if "throughput" in results:
        t = results["throughput"]
        out += [(f"Throughput: {t['samples_per_second']:.1f} samples/s on {t['device']} "
                 f"(batch {t['batch_size']}, {t['num_workers']} data workers)."), ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------------
# The authors' CSV
# ----------------------------------------------------------------------------------------------------
def authors_metric_dict(metrics: dict) -> dict[str, float]:
    """Metric names as the authors' ``Evaluator.get_metrics_dict`` writes them (plus the hand evaluator's)."""
    out = {
        "mode_mpjpe": metrics["mpjpe"]["body"],
        "mode_re": metrics["pa_mpjpe"]["body"],
        "mode_foot_mpjpe": metrics["mpjpe"]["foot"],
        "mode_foot_re": metrics["pa_mpjpe"]["foot"],
        "mode_angle_bias": metrics["angle_bias"],
        "mode_kpl2": metrics["kpl2"],
    }
    per_kp = metrics["pck_per_keypoint"]
    for ours, prefix, suffix in (("body", "body_", "_pck"), ("foot", "foot_", "_pck"),
                                 ("body_all", "", "_pcks"), ("hand", "", "_pcks_hand")):
        for thr, values in per_kp[ours].items():
            for i, value in enumerate(values):
                if value is not None:  # the authors skip keypoints that never counted
                    out[f"{prefix}kp{i}{suffix}_{thr}"] = value
            out[f"{prefix}kpAvg{suffix}_{thr}"] = metrics["pck"][ours][thr]
    return out


def write_authors_csv(path: Path, results: dict, error: str | None = None) -> None:
    """One row per metric with the authors' columns (appends, writing the header for a new file)."""
    path = Path(path)
    new = not path.exists()
    timestamp = datetime.now().isoformat(sep=" ", timespec="microseconds")
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(AUTHORS_CSV_COLUMNS)
        dataset = f"{results['dataset']}:{results['config']}:{results['split']}"
        for name, value in authors_metric_dict(results["metrics"]).items():
            writer.writerow([timestamp, results["model"], results["model_name"], dataset, name, value,
                             error or "", results["num_batches"]])


# ----------------------------------------------------------------------------------------------------
# Model card model-index
# ----------------------------------------------------------------------------------------------------
# Our entries are tagged through ``metric_config`` (``source_name`` would need a URL, which a local run lacks).
METRIC_CONFIG_TAG = "hardmo-hf evaluate"


def model_index_results(results: dict) -> list:
    """``huggingface_hub.EvalResult`` entries for a run (the numbers of its paper table)."""
    from huggingface_hub import EvalResult

    config, metrics = results["config"], results["metrics"]
    dataset_name = {"foot_p1": "HardMo-Foot (Protocol 1)", "foot_p2": "HardMo-Foot (Protocol 2)",
                    "hand": "HardMo-Hand", "normal": "HardMo"}[config]
    values = [("mpjpe", "MPJPE body (mm)", metrics["mpjpe"]["body"]),
              ("pa-mpjpe", "PA-MPJPE body (mm)", metrics["pa_mpjpe"]["body"])]
    if config in FOOT_CONFIGS:
        values += [("mpjpe", "MPJPE foot (mm)", metrics["mpjpe"]["foot"]),
                   ("pa-mpjpe", "PA-MPJPE foot (mm)", metrics["pa_mpjpe"]["foot"])]
        for t in ("0.01", "0.05"):
            values += [("pck", f"PCK@{t} body", metrics["pck"]["body"][t]),
                       ("pck", f"PCK@{t} foot", metrics["pck"]["foot"][t])]
    elif config == "hand":
        for t in ("0.01", "0.05"):
            values += [("pck", f"PCK@{t} body", metrics["pck"]["body_all"][t]),
                       ("pck", f"PCK@{t} hand", metrics["pck"]["hand"][t])]
    suffix = "" if results["protocol"]["paper_root"] else " (SMPL-pelvis root, non-paper)"
    tag = f"{METRIC_CONFIG_TAG}, pck-norm {results['protocol']['pck_normalization']}"
    return [
        EvalResult(
            task_type="human-mesh-recovery", task_name="Human mesh recovery", dataset_type=results["dataset"],
            dataset_name=dataset_name, dataset_config=config, dataset_split=results["split"],
            metric_type=metric_type, metric_name=name + (suffix if metric_type == "mpjpe" else ""),
            metric_value=round(float(value), 4), metric_config=tag,
        )
        for metric_type, name, value in values
        if value is not None and not math.isnan(value)
    ]


def _is_ours(result) -> bool:
    return (result.metric_config or "").startswith(METRIC_CONFIG_TAG)


def write_model_index(model_dir: Path, results: dict) -> Path:
    """Add (or replace) this run's numbers in ``model_dir/README.md``'s model-index; other entries stay."""
    from huggingface_hub import ModelCard, ModelCardData

    readme = Path(model_dir) / "README.md"
    card = ModelCard.load(readme) if readme.exists() else ModelCard(f"---\n{ModelCardData().to_yaml()}\n---\n")
    new = model_index_results(results)
    keys = {(r.dataset_config, r.dataset_split, r.metric_name) for r in new}
    kept = [r for r in (card.data.eval_results or [])
            if not (_is_ours(r) and (r.dataset_config, r.dataset_split, r.metric_name) in keys)]
    card.data.eval_results = kept + new
    if not card.data.model_name:
        card.data.model_name = results["model_name"]
    card.save(readme)
    return readme
