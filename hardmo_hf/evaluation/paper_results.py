"""The paper's published numbers (HardMo, CVPR 2024, supplementary tables), for side-by-side reporting.

Copied as published. MPJPE / PA-MPJPE in millimetres, PCK as fractions. ``None`` marks a number the paper
does not give for that row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperRow:
    """One published row. Pairs are (Body, Foot) for Table S-1 and (Body, Hand) for Table S-2."""

    method: str
    table: str
    mpjpe: tuple[float | None, float | None] | None = None
    pa_mpjpe: tuple[float | None, float | None] | None = None
    pck_001: tuple[float, float] | None = None
    pck_005: tuple[float, float] | None = None


# Table S-1: HardMo-Foot, Protocol 1 (intra-class) and Protocol 2 (inter-class).
TABLE_S1 = {
    "foot_p1": (
        PaperRow("HardMo-HMR (w/o OPT)", "S-1", (38.9, 58.3), (23.4, 16.2), (0.57, 0.43), (0.99, 0.98)),
        PaperRow("HardMo-HMR (w/ OPT)", "S-1", (23.6, 34.9), (15.4, 10.8), (0.71, 0.58), (0.99, 0.99)),
    ),
    "foot_p2": (
        PaperRow("HardMo-HMR (w/o OPT)", "S-1", (42.1, 58.1), (25.6, 21.1), (0.57, 0.51), (0.98, 0.98)),
        PaperRow("HardMo-HMR (w/ OPT)", "S-1", (27.5, 39.5), (17.7, 13.2), (0.67, 0.60), (0.99, 0.99)),
    ),
}

# Table S-2: HardMo-Hand, PCK (Body / Hand).
TABLE_S2 = (
    PaperRow("HardMo-HMR", "S-2", pck_001=(0.445, 0.246), pck_005=(0.975, 0.961)),
    PaperRow("HardMo-HMR (w/ first-stage opt.)", "S-2", pck_001=(0.616, 0.285), pck_005=(0.987, 0.975)),
    PaperRow("HardMo-HMR (w/ second-stage opt.)", "S-2", pck_001=(0.490, 0.363), pck_005=(0.974, 0.978)),
    PaperRow("HardMo-HMR (w/ both stages)", "S-2", pck_001=(0.543, 0.362), pck_005=(0.976, 0.978)),
)

# Table S-4: HardMo test set (HardMo-Normal), 350K-subset models: (PA-MPJPE, MPJPE) of the body.
# The data-scale study of the main paper (HMR on the HardMo test set) gives MPJPE only.
TABLE_S4 = (
    PaperRow("HardMo-4DHumans (w/o OPT)", "S-4", mpjpe=(64.0, None), pa_mpjpe=(41.5, None)),
    PaperRow("HardMo-4DHumans (w/ OPT)", "S-4", mpjpe=(62.5, None), pa_mpjpe=(40.7, None)),
    PaperRow("HardMo-HMR, 1.4M training instances", "data scale", mpjpe=(43.0, None)),
    PaperRow("HardMo-HMR, 5.8M training instances", "data scale", mpjpe=(36.0, None)),
)


def paper_rows(config: str) -> tuple[PaperRow, ...]:
    """The published rows that a run on ``config``'s test split should be compared with."""
    if config in TABLE_S1:
        return TABLE_S1[config]
    if config == "hand":
        return TABLE_S2
    if config == "normal":
        return TABLE_S4
    raise ValueError(f"unknown HardMo config {config!r}")


def paper_table_name(config: str) -> str:
    return {"foot_p1": "Table S-1 (HardMo-Foot, Protocol 1)", "foot_p2": "Table S-1 (HardMo-Foot, Protocol 2)",
            "hand": "Table S-2 (HardMo-Hand)", "normal": "Table S-4 (HardMo test)"}[config]
