"""A synthetic, human-shaped stand-in for the licensed ``SMPL_NEUTRAL.pkl``, for tests and benchmarks.

The real SMPL files may not be redistributed, so tests build this file in a temporary directory. It has the
seven keys ``smplx`` reads, with the real shapes (6890 vertices, 13776 faces, 24 joints, 10 betas, 207 pose
blend shapes), and it behaves like a body: the rest pose is a T-pose about 1.7 m tall with SMPL's joint
positions, each bone is a tube of vertices rigidly skinned to its parent joint, the joint regressor averages
a ring of vertices centred on each joint (so the regressed rest joints are exact), and the vertices smplx
selects as extra joints (nose, eyes, ears, toes, heels, fingertips) sit where they should and move with the
right joints. Its numbers are invented; nothing is derived from SMPL data.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..models.constants_hardmo import NUM_SMPL_JOINTS

NUM_VERTICES = 6890
NUM_FACES = 13776
RING_SEGMENTS = 12

# Kinematic parents of the 24 SMPL joints.
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# Rest (T-pose) joint positions in metres: x to the body's left, y up, z forward.
REST_JOINTS = np.array(
    [
        [0.00, 0.00, 0.00], [0.07, -0.09, 0.00], [-0.07, -0.09, 0.00], [0.00, 0.11, -0.02],
        [0.10, -0.48, 0.00], [-0.10, -0.48, 0.00], [0.00, 0.25, -0.01], [0.09, -0.88, -0.03],
        [-0.09, -0.88, -0.03], [0.00, 0.31, 0.01], [0.11, -0.94, 0.09], [-0.11, -0.94, 0.09],
        [0.00, 0.52, -0.01], [0.08, 0.43, 0.00], [-0.08, 0.43, 0.00], [0.00, 0.60, 0.04],
        [0.17, 0.45, -0.01], [-0.17, 0.45, -0.01], [0.43, 0.43, -0.03], [-0.43, 0.43, -0.03],
        [0.68, 0.44, -0.02], [-0.68, 0.44, -0.02], [0.77, 0.43, -0.03], [-0.77, 0.43, -0.03],
    ],
    dtype=np.float64,
)
# Tubes: (start joint, end point, radius, skinning joint). Leaf tubes extend beyond the last joint.
_LEAF_ENDS = {15: [0.00, 0.80, 0.05], 10: [0.11, -0.96, 0.17], 11: [-0.11, -0.96, 0.17],
              22: [0.88, 0.43, -0.03], 23: [-0.88, 0.43, -0.03]}
_RADII = {0: 0.12, 1: 0.08, 2: 0.08, 3: 0.13, 4: 0.06, 5: 0.06, 6: 0.14, 7: 0.04, 8: 0.04, 9: 0.14,
          10: 0.035, 11: 0.035, 12: 0.05, 13: 0.05, 14: 0.05, 15: 0.09, 16: 0.045, 17: 0.045, 18: 0.04,
          19: 0.04, 20: 0.03, 21: 0.03, 22: 0.03, 23: 0.03}


def _tubes() -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    """One tube per bone (parent -> child), plus the head, feet and hands past their last joint."""
    tubes = []
    for child, parent in enumerate(PARENTS):
        if parent >= 0:
            tubes.append((parent, REST_JOINTS[parent], REST_JOINTS[child], _RADII[parent]))
    for joint, end in _LEAF_ENDS.items():
        tubes.append((joint, REST_JOINTS[joint], np.asarray(end, dtype=np.float64), _RADII[joint]))
    return tubes


def _ring(centre: np.ndarray, axis: np.ndarray, radius: float) -> np.ndarray:
    """``RING_SEGMENTS`` points on a circle around ``axis`` whose mean is exactly ``centre``."""
    axis = axis / np.linalg.norm(axis)
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    theta = 2 * np.pi * np.arange(RING_SEGMENTS) / RING_SEGMENTS
    return centre + radius * (np.cos(theta)[:, None] * u + np.sin(theta)[:, None] * v)


def _extra_joint_targets() -> dict[str, tuple[np.ndarray, int]]:
    """Where smplx's extra-joint vertices go, and which joint moves them."""
    j = REST_JOINTS
    head, lfoot, rfoot = j[15], _LEAF_ENDS[10], _LEAF_ENDS[11]
    targets = {
        "nose": (head + [0.00, 0.02, 0.10], 15),
        "reye": (head + [-0.03, 0.05, 0.08], 15), "leye": (head + [0.03, 0.05, 0.08], 15),
        "rear": (head + [-0.08, 0.03, 0.00], 15), "lear": (head + [0.08, 0.03, 0.00], 15),
        "LBigToe": (np.asarray(lfoot) + [-0.02, 0.0, 0.0], 10), "LSmallToe": (np.asarray(lfoot) + [0.04, 0.0, -0.02], 10),
        "LHeel": (j[7] + [0.0, -0.07, -0.06], 7),
        "RBigToe": (np.asarray(rfoot) + [0.02, 0.0, 0.0], 11), "RSmallToe": (np.asarray(rfoot) + [-0.04, 0.0, -0.02], 11),
        "RHeel": (j[8] + [0.0, -0.07, -0.06], 8),
    }
    for side, sign, hand_joint in (("l", 1.0, 22), ("r", -1.0, 23)):
        base = j[hand_joint]
        for k, finger in enumerate(("thumb", "index", "middle", "ring", "pinky")):
            offset = [sign * (0.06 if finger == "thumb" else 0.10), 0.0, 0.05 - 0.025 * k]
            targets[f"{side}{finger}"] = (base + offset, hand_joint)
    return targets


def build_synthetic_smpl(seed: int = 0) -> dict[str, np.ndarray]:
    """The seven arrays smplx reads from an SMPL ``.pkl``, for a synthetic body (see module doc)."""
    from smplx.vertex_ids import vertex_ids  # the vertex ids smplx turns into extra joints

    rng = np.random.default_rng(seed)
    extra = {name: vertex_ids["smplh"][name] for name in _extra_joint_targets()}
    reserved = set(extra.values())
    free_ids = (vid for vid in range(NUM_VERTICES) if vid not in reserved)
    # Spare vertices sit at the pelvis; spare faces are degenerate.
    v_template = np.repeat(REST_JOINTS[:1], NUM_VERTICES, axis=0)
    skin_joint = np.zeros(NUM_VERTICES, dtype=int)
    faces, joint_ring = [], {}
    for joint, start, end, radius in _tubes():
        num_rings = max(3, int(round(np.linalg.norm(end - start) / 0.0095)))
        ids = np.array([[next(free_ids) for _ in range(RING_SEGMENTS)] for _ in range(num_rings)])
        for r, t in enumerate(np.linspace(0, 1, num_rings)):
            v_template[ids[r]] = _ring(start + (end - start) * t, end - start, radius)
        skin_joint[ids] = joint
        joint_ring.setdefault(joint, ids[0])
        for r in range(num_rings - 1):
            for s in range(RING_SEGMENTS):
                a, b = ids[r, s], ids[r, (s + 1) % RING_SEGMENTS]
                c, d = ids[r + 1, s], ids[r + 1, (s + 1) % RING_SEGMENTS]
                faces += [(a, b, c), (b, d, c)]
    if len(faces) > NUM_FACES:
        raise AssertionError("synthetic SMPL layout exceeds the real SMPL face count")
    faces = np.array(faces + [(0, 0, 0)] * (NUM_FACES - len(faces)), dtype=np.int64)
    # Extra-joint vertices (reserved above) where they belong, moving with the right joint.
    for name, (position, joint) in _extra_joint_targets().items():
        v_template[extra[name]] = position
        skin_joint[extra[name]] = joint

    weights = np.zeros((NUM_VERTICES, NUM_SMPL_JOINTS))
    weights[np.arange(NUM_VERTICES), skin_joint] = 1.0
    j_regressor = np.zeros((NUM_SMPL_JOINTS, NUM_VERTICES))
    for joint in range(NUM_SMPL_JOINTS):
        j_regressor[joint, joint_ring[joint]] = 1.0 / RING_SEGMENTS

    # Shape space: beta 0 scales the body about the pelvis, beta 1 changes girth, the rest are smooth
    # low-amplitude fields (a few cm per unit beta, as in SMPL).
    shapedirs = np.zeros((NUM_VERTICES, 3, 10))
    shapedirs[:, :, 0] = 0.04 * v_template
    radial = v_template - REST_JOINTS[skin_joint]
    shapedirs[:, :, 1] = 0.15 * radial
    for k in range(2, 10):
        freq = rng.normal(size=3) * 3.0
        direction = rng.normal(size=3)
        shapedirs[:, :, k] = 0.005 * np.sin(v_template @ freq)[:, None] * direction[None, :]
    posedirs = (1e-4 * rng.standard_normal((NUM_VERTICES, 3, 207))).astype(np.float32)
    kintree_table = np.array([[4294967295] + list(PARENTS[1:]), list(range(NUM_SMPL_JOINTS))], dtype=np.int64)
    return {
        "v_template": v_template.astype(np.float64),
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree_table,
        "f": faces.astype(np.uint32),
    }


def make_synthetic_smpl(directory: str | Path, seed: int = 0) -> Path:
    """Write ``SMPL_NEUTRAL.pkl`` (the synthetic stand-in) into ``directory`` and return its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "SMPL_NEUTRAL.pkl"
    with open(path, "wb") as handle:
        pickle.dump(build_synthetic_smpl(seed), handle, protocol=4)
    return path


def make_synthetic_j19_regressor(directory: str | Path, seed: int = 0) -> Path:
    """Write ``SMPL_to_J19.pkl``: a (19, 6890) regressor for the synthetic body (each J19 joint is a fixed
    mix of nearby SMPL joint rings, mirroring what the real regressor does)."""
    smpl = build_synthetic_smpl(seed)
    j = smpl["J_regressor"]
    # J19 names in order (see constants_hardmo.J19_NAMES) as combinations of SMPL joints.
    mix = [(8,), (5,), (2,), (1,), (4,), (7,), (21,), (19,), (17,), (16,), (18,), (20,), (12,), (15,),
           (0, 3), (12, 9), (3, 6), (12, 15), (15,)]
    regressor = np.stack([j[list(m)].mean(axis=0) for m in mix])
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "SMPL_to_J19.pkl"
    with open(path, "wb") as handle:
        pickle.dump(regressor, handle, protocol=4)
    return path
