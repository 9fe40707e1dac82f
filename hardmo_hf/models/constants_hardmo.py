"""Model-facing constants shared by the HardMo models, dataset, evaluation and pipeline: keypoint and joint
layouts, image normalisation, the crop camera.

This is the single place where these live. It sits in the flat model folder (and imports
nothing but the standard library) so that the files copied for ``trust_remote_code`` can use it too;
``hardmo_hf.constants`` re-exports everything here.

Layouts (all indices 0-based):

* **COCO-WholeBody** (133 points): body 0-16, feet 17-22, face 23-90, left hand 91-111, right hand 112-132.
* **WholeBody-33**: the model-facing subset, COCO-WholeBody 0..22 plus the 10 fingertips
  (left thumb..pinky, then right thumb..pinky).
* **Label-44** (4D-Humans / HMR2): rows 0-24 OpenPose BODY_25, rows 25-43 the 19 "J19" joints
  (LSP 14 + MPII pelvis/thorax + H36M spine/jaw/head). HardMo labels keep the J19 rows as zeros in 2D.
* **Fingertips-10**: ``hand_keypoints_2d`` rows, left thumb..pinky then right thumb..pinky.
* **smplx-45**: joints of ``smplx.SMPL`` (24 SMPL joints + nose, reye, leye, rear, lear, LBigToe,
  LSmallToe, LHeel, RBigToe, RSmallToe, RHeel, then 10 fingertips left thumb..pinky, right thumb..pinky).
* **SMPL-24**: the kinematic joints of SMPL (pose parameters are given per joint in this order).
"""

# ----------------------------------------------------------------------------------------------------
# OpenPose BODY_25 and the 44-point label layout
# ----------------------------------------------------------------------------------------------------
BODY25_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
J19_NAMES = (
    "right_ankle_lsp", "right_knee_lsp", "right_hip_lsp", "left_hip_lsp", "left_knee_lsp",
    "left_ankle_lsp", "right_wrist_lsp", "right_elbow_lsp", "right_shoulder_lsp", "left_shoulder_lsp",
    "left_elbow_lsp", "left_wrist_lsp", "neck_lsp", "head_top_lsp", "pelvis_mpii", "thorax_mpii",
    "spine_h36m", "jaw_h36m", "head_h36m",
)
LABEL44_NAMES = BODY25_NAMES + J19_NAMES
NUM_LABEL_KEYPOINTS = 44
LABEL44_PELVIS = 39  # J19 "pelvis_mpii": the root the authors align 3D joints on
LABEL44_FLIP_PERMUTATION = (
    [0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11, 16, 15, 18, 17, 22, 23, 24, 19, 20, 21]
    + [25 + i for i in (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18)]
)

NUM_SMPLX45_JOINTS = 45  # joints returned by smplx.SMPL (see the module docstring)

# smplx-45 joint index for each BODY_25 row (4D-Humans' ``smpl_to_openpose``).
SMPLX45_TO_BODY25 = (24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34)

# Evaluation subsets of the 44-point layout (the authors' evaluation code).
EVAL_BODY_JOINTS = (0, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
EVAL_FOOT_JOINTS = (19, 20, 21, 22, 23, 24)
EVAL_WRIST_JOINTS = (4, 7)  # right wrist, left wrist in BODY_25

# ----------------------------------------------------------------------------------------------------
# Fingertips
# ----------------------------------------------------------------------------------------------------
FINGERTIP_NAMES = (
    "left_thumb_tip", "left_index_tip", "left_middle_tip", "left_ring_tip", "left_pinky_tip",
    "right_thumb_tip", "right_index_tip", "right_middle_tip", "right_ring_tip", "right_pinky_tip",
)
NUM_FINGERTIPS = 10
FINGERTIP_FLIP_PERMUTATION = (5, 6, 7, 8, 9, 0, 1, 2, 3, 4)
# smplx-45 rows of the 10 fingertips, in ``hand_keypoints_2d`` order (left thumb..pinky, right thumb..pinky).
SMPLX45_FINGERTIPS = tuple(range(35, 45))

# ----------------------------------------------------------------------------------------------------
# COCO-WholeBody
# ----------------------------------------------------------------------------------------------------
NUM_WHOLEBODY_KEYPOINTS = 133
COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
WHOLEBODY_FOOT_NAMES = (
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
WHOLEBODY_BODY = tuple(range(17))
WHOLEBODY_FEET = tuple(range(17, 23))
WHOLEBODY_FACE = tuple(range(23, 91))
WHOLEBODY_LEFT_HAND = tuple(range(91, 112))
WHOLEBODY_RIGHT_HAND = tuple(range(112, 133))
WHOLEBODY_FINGERTIPS = (95, 99, 103, 107, 111, 116, 120, 124, 128, 132)


def _face68_flip():
    """Left/right mirror of the 68-point iBUG face layout (0-based, face-local indices)."""
    perm = list(range(68))
    pairs = [(i, 16 - i) for i in range(8)]  # jaw line
    pairs += [(17 + i, 26 - i) for i in range(5)]  # eyebrows
    pairs += [(31, 35), (32, 34)]  # nose bottom
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lip
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


COCO17_FLIP_PERMUTATION = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
WHOLEBODY_FLIP_PERMUTATION = tuple(
    list(COCO17_FLIP_PERMUTATION)
    + [20, 21, 22, 17, 18, 19]
    + [23 + i for i in _face68_flip()]
    + list(WHOLEBODY_RIGHT_HAND)
    + list(WHOLEBODY_LEFT_HAND)
)

# The 33-point model-facing subset and how to get it from each source.
WHOLEBODY33_FROM_WHOLEBODY133 = tuple(range(23)) + WHOLEBODY_FINGERTIPS
WHOLEBODY33_NAMES = COCO17_NAMES + WHOLEBODY_FOOT_NAMES + FINGERTIP_NAMES
WHOLEBODY33_FLIP_PERMUTATION = (
    COCO17_FLIP_PERMUTATION + (20, 21, 22, 17, 18, 19) + tuple(23 + i for i in FINGERTIP_FLIP_PERMUTATION)
)
# Bones of the WholeBody-33 layout for drawing: COCO-17 limbs and face, ankle -> foot points, wrist -> fingertips.
WHOLEBODY33_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
    (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
    (15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22),
    (9, 23), (9, 24), (9, 25), (9, 26), (9, 27), (10, 28), (10, 29), (10, 30), (10, 31), (10, 32),
)
SMPLX45_TO_WHOLEBODY33 = (
    24, 26, 25, 28, 27, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8,
    29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
)

# COCO-WholeBody 133 -> BODY_25 rows of the label layout. Neck and mid-hip are midpoints of two points;
# every other row copies one point. Entries are tuples of source indices to average.
BODY25_FROM_WHOLEBODY133 = (
    (0,), (5, 6), (6,), (8,), (10,), (5,), (7,), (9,), (11, 12), (12,), (14,), (16,), (11,), (13,),
    (15,), (2,), (1,), (4,), (3,), (17,), (18,), (19,), (20,), (21,), (22,),
)

# ----------------------------------------------------------------------------------------------------
# SMPL kinematic joints
# ----------------------------------------------------------------------------------------------------
SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)
NUM_SMPL_JOINTS = 24
NUM_SMPL_BODY_JOINTS = 23
NUM_BETAS = 10
SMPL_FLIP_PERMUTATION = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)
SMPL_ANGLE_BIAS_JOINTS = (18, 19, 20, 21)  # elbows and wrists: the paper's angle-bias joints
SMPL_FOOT_CHAIN_JOINTS = (4, 5, 7, 8, 10, 11)  # knees (lower-leg rotation), ankles, feet
SMPL_WRIST_JOINTS = (20, 21)
SMPL_ARM_CHAIN_JOINTS = (13, 14, 16, 17, 18, 19)  # collars, shoulders, elbows
SMPL_TORSO_JOINTS = (0, 3, 6, 9, 12, 15)

# ----------------------------------------------------------------------------------------------------
# Image normalisation and the crop camera (upstream HMR2 / HMR)
# ----------------------------------------------------------------------------------------------------
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
FOCAL_LENGTH = 5000.0  # px, for a crop of the model's image size
BBOX_SCALE_UNIT = 200.0  # "scale" fields are box size / 200 px
