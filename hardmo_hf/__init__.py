"""HardMo (CVPR 2024) on the Hugging Face stack."""

__version__ = "0.1.0"
