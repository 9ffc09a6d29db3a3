"""tformer: one shared Transformer core for text, images and audio."""

__version__ = "0.1.0"

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

# A source checkout used without installing (PYTHONPATH=., as on a machine with its own Python):
# conf/ and tasks/ sit beside this folder, where an install maps them into it (pyproject.toml's
# package-dir: tformer.conf, tformer.tasks).
_checkout = Path(__file__).resolve().parent.parent
if importlib.util.find_spec(f"{__name__}.conf") is None and (_checkout / "conf" / "__init__.py").is_file():
    __path__.append(str(_checkout))

from . import cores, tokenizers  # noqa: E402  (register the built-in cores and tokenizers)
from .checkpoint import load  # noqa: E402
from .registry import CORES, DATASETS, TASKS, TOKENIZERS, Registry  # noqa: E402

__all__ = ["load", "Registry", "TOKENIZERS", "DATASETS", "TASKS", "CORES", "__version__"]
