"""HardMo (CVPR 2024) on the Hugging Face stack."""

__version__ = "0.1.0"

# AutoConfig / AutoModel know the HardMo models once `transformers` is imported (lazily: keeps this import fast).
from .models.auto_registration import register_when_transformers_loads as _register_models

_register_models()
