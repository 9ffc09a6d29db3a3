"""Lightning task modules. Importing this package registers them in ``tformer.registry.TASKS``."""

from .asr import AsrTask
from .base import Task
from .classification import ClassificationTask
from .translation import TranslationTask

__all__ = ["Task", "TranslationTask", "ClassificationTask", "AsrTask"]
