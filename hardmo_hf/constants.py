"""Dataset-wide constants: classes, subsets, protocols, filtering defaults, camera constants.

Keypoint layouts live in :mod:`hardmo_hf.models.constants_hardmo` (so the remote-code model folder can use
them without importing ``hardmo_hf``) and are re-exported here. Import every constant from this module.
"""

from .models.constants_hardmo import *

# ----------------------------------------------------------------------------------------------------
# Action classes
# ----------------------------------------------------------------------------------------------------
# 15 dance styles (13 seen in the authors' code + samba and waltz from the paper).
DANCE_CLASSES = (
    "ballet", "breaking", "cha_cha", "chinese_dance", "hip_hop", "jazz", "k_pop", "locking",
    "pole_dance", "popping", "rumba", "samba", "tango", "waltz", "zhaiwu",
)
# 8 of the 14 martial arts are public; any other class string is accepted (see ``category_group``).
MARTIAL_ARTS_CLASSES = (
    "bagua", "bajiquan", "changquan", "daoshu", "jianshu", "qiangshu", "taijiquan", "xingyi",
)
CATEGORY_GROUPS = ("dance", "martial_arts")


def category_group(category: str) -> str:
    """``dance`` or ``martial_arts`` for a class folder name.

    Unknown class strings are allowed (six martial arts are unpublished); they are grouped as martial arts
    unless they are known dance styles.
    """
    if category in DANCE_CLASSES:
        return "dance"
    return "martial_arts"


# ----------------------------------------------------------------------------------------------------
# Subsets, configs and protocols
# ----------------------------------------------------------------------------------------------------
SUBSETS = ("normal", "foot", "hand")
SPLITS = ("train", "test")
CONFIGS = ("normal", "foot_p1", "foot_p2", "hand")
DEFAULT_CONFIG = "normal"
CONFIG_SUBSET = {"normal": "normal", "foot_p1": "foot", "foot_p2": "foot", "hand": "hand"}

# Foot P2 (inter-class): train and test classes from the paper.
FOOT_P2_TRAIN_CLASSES = ("jazz", "chinese_dance", "ballet")
FOOT_P2_TEST_CLASSES = ("samba", "waltz", "cha_cha", "tango")
P2_CLASSES = FOOT_P2_TRAIN_CLASSES + FOOT_P2_TEST_CLASSES

DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 0
# Default partition of a build: one task per UNITS_PER_TASK units, however large the input. A task's memory (its
# row-group buffers, bounded by hardmo_hf.data.shards.ShardOptions.buffer_bytes, and its id list) follows the size
# of its slice, never the size of the input, so a 4x larger input means 4x the tasks at the same memory per worker.
# 64 clips of HardMo (~300 frames each, 150 KB JPEGs) are ~3 GB of rows per task: its files reach the 0.5-1 GB
# target. A task also has a fixed cost (datatrove's logs and stats, its files, its id table: ~15 ms) that clips of
# a few frames pay often: 64 units build the 5,040-frame bench input ~20 % faster than 32; 128 would be faster
# still, but its tasks hold several classes at 1x input and one at 4x, so small inputs' row groups, and peak
# memory, would follow the input.
UNITS_PER_TASK = 64

PROTOCOLS = {
    "normal": "HardMo-Normal, subject-disjoint train/test over all classes (raw pseudo-labels).",
    "foot_p1": "HardMo-Foot Protocol 1 (intra-class): the same classes in train and test, subject-disjoint.",
    "foot_p2": (
        "HardMo-Foot Protocol 2 (inter-class): train on "
        + ", ".join(FOOT_P2_TRAIN_CLASSES)
        + "; test on "
        + ", ".join(FOOT_P2_TEST_CLASSES)
        + ". Other classes are not used."
    ),
    "hand": "HardMo-Hand: the same classes in train and test, subject-disjoint.",
}

# ----------------------------------------------------------------------------------------------------
# Label filtering (paper vs authors' training code)
# ----------------------------------------------------------------------------------------------------
CONFIDENCE_THRESHOLD_PAPER = 0.5
CONFIDENCE_THRESHOLD_CODE = 0.3
DEFAULT_CONFIDENCE_THRESHOLD = CONFIDENCE_THRESHOLD_PAPER
MIN_CONFIDENT_KEYPOINTS = 5  # keep a sample only if more than 4 keypoints have confidence > 0
MAX_ABS_BETA = 3.0

# ----------------------------------------------------------------------------------------------------
# Hugging Face Hub homes (defaults; every command that uses them also takes an explicit repo id)
# ----------------------------------------------------------------------------------------------------
HUB_MODEL_4DHUMANS = "hardmo/HardMo-4DHumans"
HUB_MODEL_HMR = "hardmo/HardMo-HMR"
HUB_DATASET = "hardmo/HardMo"
HUB_SPACE = "hardmo/hardmo-demo"

DATASET_LICENSE = "cc-by-sa-4.0"
CITATION = """@inproceedings{liao2024hardmo,
  title     = {HardMo: A Large-Scale Hardcase Dataset for Motion Capture},
  author    = {Liao, Jiaqi and Luo, Chuanchen and Du, Yinuo and Wang, Yuxi and Yin, Xucheng and
               Zhang, Man and Zhang, Zhaoxiang and Peng, Junran},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2024}
}"""

# ----------------------------------------------------------------------------------------------------
# Implausible-pose rule (the AMASS pose histogram of the authors' code is not distributed)
# ----------------------------------------------------------------------------------------------------
# See ``hardmo_hf.data.filters.pose_is_plausible`` and docs/readers.md. Angles are in degrees and refer to
# the SMPL local axis-angle of each body joint (rest pose = T-pose; x points to the body's left, y up,
# z forward). The limits are deliberately wide: they flag clearly broken pseudo-labels (a knee bent
# forwards, a spine twisted half a turn), not unusual dance poses.
# Largest rotation angle per SMPL body joint 1..23 (index 0 of this tuple is joint 1, "left_hip").
SMPL_BODY_JOINT_MAX_ROTATION_DEG = (
    175.0, 175.0, 90.0,  # left_hip, right_hip, spine1
    170.0, 170.0, 75.0,  # left_knee, right_knee, spine2
    90.0, 90.0, 75.0,  # left_ankle, right_ankle, spine3
    75.0, 75.0, 90.0,  # left_foot, right_foot, neck
    75.0, 75.0, 90.0,  # left_collar, right_collar, head
    180.0, 180.0, 170.0,  # left_shoulder, right_shoulder (ball joints: unlimited), left_elbow
    170.0, 120.0, 120.0,  # right_elbow, left_wrist, right_wrist
    90.0, 90.0,  # left_hand, right_hand
)
# Hinge joints: SMPL joint -> (hinge axis 0/1/2 = x/y/z, sign of flexion about it, min flexion, max flexion,
# axes whose rotation-vector component is limited, limit of that component's norm). Knees flex about +x;
# the left elbow about -y and the right elbow about +y (the conventions of the SMPLify angle prior).
# Elbows may twist about the forearm (x) freely; their sideways (z) bend is limited.
SMPL_HINGE_JOINT_LIMITS = {
    4: (0, 1.0, -25.0, 165.0, (1, 2), 60.0),  # left_knee
    5: (0, 1.0, -25.0, 165.0, (1, 2), 60.0),  # right_knee
    18: (1, -1.0, -25.0, 165.0, (2,), 60.0),  # left_elbow
    19: (1, 1.0, -25.0, 165.0, (2,), 60.0),  # right_elbow
}

# ----------------------------------------------------------------------------------------------------
# MMHuman3D HumanData (190-point ``human_data`` keypoint convention)
# ----------------------------------------------------------------------------------------------------
# Names of the 190 points, in index order (MMHuman3D ``keypoints_mapping/human_data.py``).
HUMANDATA_KEYPOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine_1", "left_knee", "right_knee", "spine_2", "left_ankle",
    "right_ankle", "spine_3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "jaw",
    "left_eyeball", "right_eyeball", "left_index_1", "left_index_2", "left_index_3", "left_middle_1",
    "left_middle_2", "left_middle_3", "left_pinky_1", "left_pinky_2", "left_pinky_3", "left_ring_1",
    "left_ring_2", "left_ring_3", "left_thumb_1", "left_thumb_2", "left_thumb_3", "right_index_1",
    "right_index_2", "right_index_3", "right_middle_1", "right_middle_2", "right_middle_3",
    "right_pinky_1", "right_pinky_2", "right_pinky_3", "right_ring_1", "right_ring_2", "right_ring_3",
    "right_thumb_1", "right_thumb_2", "right_thumb_3", "nose", "right_eye", "left_eye", "right_ear",
    "left_ear", "left_bigtoe", "left_smalltoe", "left_heel", "right_bigtoe", "right_smalltoe",
    "right_heel", "left_thumb", "left_index", "left_middle", "left_ring", "left_pinky", "right_thumb",
    "right_index", "right_middle", "right_ring", "right_pinky", "right_eyebrow_1", "right_eyebrow_2",
    "right_eyebrow_3", "right_eyebrow_4", "right_eyebrow_5", "left_eyebrow_5", "left_eyebrow_4",
    "left_eyebrow_3", "left_eyebrow_2", "left_eyebrow_1", "nosebridge_1", "nosebridge_2", "nosebridge_3",
    "nosebridge_4", "right_nose_2", "right_nose_1", "nose_middle", "left_nose_1", "left_nose_2",
    "right_eye_1", "right_eye_2", "right_eye_3", "right_eye_4", "right_eye_5", "right_eye_6",
    "left_eye_4", "left_eye_3", "left_eye_2", "left_eye_1", "left_eye_6", "left_eye_5", "right_mouth_1",
    "right_mouth_2", "right_mouth_3", "mouth_top", "left_mouth_3", "left_mouth_2", "left_mouth_1",
    "left_mouth_5", "left_mouth_4", "mouth_bottom", "right_mouth_4", "right_mouth_5", "right_lip_1",
    "right_lip_2", "lip_top", "left_lip_2", "left_lip_1", "left_lip_3", "lip_bottom", "right_lip_3",
    "right_contour_1", "right_contour_2", "right_contour_3", "right_contour_4", "right_contour_5",
    "right_contour_6", "right_contour_7", "right_contour_8", "contour_middle", "left_contour_8",
    "left_contour_7", "left_contour_6", "left_contour_5", "left_contour_4", "left_contour_3",
    "left_contour_2", "left_contour_1", "right_hip_extra", "left_hip_extra", "neck_extra", "headtop",
    "pelvis_extra", "thorax_extra", "spine_extra", "jaw_extra", "head_extra", "nose_openpose",
    "neck_openpose", "right_shoulder_openpose", "right_elbow_openpose", "right_wrist_openpose",
    "left_shoulder_openpose", "left_elbow_openpose", "left_wrist_openpose", "pelvis_openpose",
    "right_hip_openpose", "right_knee_openpose", "right_ankle_openpose", "left_hip_openpose",
    "left_knee_openpose", "left_ankle_openpose", "right_eye_openpose", "left_eye_openpose",
    "right_ear_openpose", "left_ear_openpose", "left_bigtoe_openpose", "left_smalltoe_openpose",
    "left_heel_openpose", "right_bigtoe_openpose", "right_smalltoe_openpose", "right_heel_openpose",
    "spine_4_3dhp", "left_clavicle_3dhp", "right_clavicle_3dhp", "left_hand_3dhp", "right_hand_3dhp",
    "left_toe_3dhp", "right_toe_3dhp", "head_h36m", "headtop_h36m", "head_bottom_pt", "left_hand",
    "right_hand",
)
NUM_HUMANDATA_KEYPOINTS = 190
HUMANDATA_INDEX = {name: index for index, name in enumerate(HUMANDATA_KEYPOINT_NAMES)}

# The HumanData point for each row of the label-44 layout: OpenPose BODY_25 (the ``*_openpose`` points),
# then the J19 joints (MMHuman3D's SMPL-49 convention, whose first 44 points are exactly this layout).
HUMANDATA_LABEL44_NAMES = (
    "nose_openpose", "neck_openpose", "right_shoulder_openpose", "right_elbow_openpose",
    "right_wrist_openpose", "left_shoulder_openpose", "left_elbow_openpose", "left_wrist_openpose",
    "pelvis_openpose", "right_hip_openpose", "right_knee_openpose", "right_ankle_openpose",
    "left_hip_openpose", "left_knee_openpose", "left_ankle_openpose", "right_eye_openpose",
    "left_eye_openpose", "right_ear_openpose", "left_ear_openpose", "left_bigtoe_openpose",
    "left_smalltoe_openpose", "left_heel_openpose", "right_bigtoe_openpose", "right_smalltoe_openpose",
    "right_heel_openpose",
    "right_ankle", "right_knee", "right_hip_extra", "left_hip_extra", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck_extra", "headtop", "pelvis_extra", "thorax_extra", "spine_extra", "jaw_extra", "head_extra",
)


def _humandata_wholebody133_names():
    """The HumanData point for each COCO-WholeBody point (MMHuman3D's ``coco_wholebody`` names).

    The hand root of COCO-WholeBody has no HumanData point of its own; the body wrist stands in for it.
    """
    face = HUMANDATA_KEYPOINT_NAMES[127:144] + HUMANDATA_KEYPOINT_NAMES[76:127]  # contour, then brows..lips
    hands = []
    for side in ("left", "right"):
        hands.append(f"{side}_wrist")
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            hands += [f"{side}_{finger}_1", f"{side}_{finger}_2", f"{side}_{finger}_3", f"{side}_{finger}"]
    feet = tuple(name.replace("_big_toe", "_bigtoe").replace("_small_toe", "_smalltoe")
                 for name in WHOLEBODY_FOOT_NAMES)
    return COCO17_NAMES + feet + face + tuple(hands)


HUMANDATA_WHOLEBODY133_NAMES = _humandata_wholebody133_names()

# ----------------------------------------------------------------------------------------------------
# Person detection (hardmo_hf.detection) and the mesh-recovery pipeline task
# ----------------------------------------------------------------------------------------------------
DEFAULT_PERSON_DETECTOR = "PekingU/rtdetr_r18vd"  # RT-DETR, COCO classes: needs neither timm nor torchvision
DETECTOR_ENV = "HARDMO_DETECTOR"  # a Hub id / folder of an object detector, or one of DETECTOR_OFF_VALUES
DETECTOR_OFF_VALUES = ("none", "off", "")
PIPELINE_TASK = "human-mesh-recovery"
