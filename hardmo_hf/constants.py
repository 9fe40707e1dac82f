"""Dataset-wide constants: classes, subsets, protocols, filtering defaults, camera constants.

Keypoint layouts live in :mod:`hardmo_hf.models.keypoints_hardmo` (so the remote-code model folder can use
them without importing ``hardmo_hf``) and are re-exported here. Import every constant from this module.
"""

from .models.keypoints_hardmo import *  # noqa: F401,F403  (re-export: one import point for constants)

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
# Camera and crop constants (upstream HMR2 / HMR)
# ----------------------------------------------------------------------------------------------------
FOCAL_LENGTH = 5000.0  # px, for a crop of size CROP_SIZE
BBOX_SCALE_UNIT = 200.0  # "scale" fields are box size / 200 px
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

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
