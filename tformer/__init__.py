"""tformer: one shared Transformer core for text, images and audio."""

from .registry import DATASETS, TOKENIZERS, Registry

__version__ = "0.1.0"
__all__ = ["Registry", "TOKENIZERS", "DATASETS", "__version__"]
