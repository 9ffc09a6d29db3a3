"""tformer: one shared Transformer core for text, images and audio."""

__version__ = "0.1.0"

from . import tokenizers  # noqa: E402  (registers the built-in tokenizers)
from .checkpoint import load  # noqa: E402
from .registry import DATASETS, TASKS, TOKENIZERS, Registry  # noqa: E402

__all__ = ["load", "Registry", "TOKENIZERS", "DATASETS", "TASKS", "__version__"]
