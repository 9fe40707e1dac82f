"""``spaces.GPU`` where the ``spaces`` package exists (Hugging Face ZeroGPU Spaces), a no-op elsewhere.

On a ZeroGPU Space a GPU is attached only while a function decorated with ``spaces.GPU`` runs; the
decorated function must be defined at import time and get plain data (numpy arrays, strings) as
arguments. Everywhere else (CPU Spaces, dedicated GPUs, local runs, tests) the decorator returns the
function unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

try:  # the `spaces` package is preinstalled on Hugging Face Spaces
    import spaces as _spaces
except ImportError:  # pragma: no cover - depends on the environment
    _spaces = None
if _spaces is not None and not callable(getattr(_spaces, "GPU", None)):
    _spaces = None  # some other `spaces` on the path (e.g. this repository's spaces/ folder as a namespace)


def gpu(fn: Callable | None = None, *, duration: int = 60) -> Callable:
    """Decorate ``fn`` with ``spaces.GPU(duration=...)`` when available; otherwise return it as is.

    Usable bare (``@gpu``) or with arguments (``@gpu(duration=120)``).
    """

    def wrap(func: Callable) -> Callable:
        if _spaces is None:
            return func
        return _spaces.GPU(duration=duration)(func)

    return wrap(fn) if fn is not None else wrap


def on_zerogpu() -> bool:
    """True when running on a ZeroGPU Space."""
    import os

    return _spaces is not None and os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")
