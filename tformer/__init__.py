"""tformer: one shared Transformer core for text, images and audio."""

__version__ = "0.1.0"

from . import cores, tokenizers  # noqa: E402  (register the built-in cores and tokenizers)
from .checkpoint import load  # noqa: E402
from .registry import CORES, DATASETS, TASKS, TOKENIZERS, Registry  # noqa: E402

__all__ = ["load", "Registry", "TOKENIZERS", "DATASETS", "TASKS", "CORES", "__version__"]
