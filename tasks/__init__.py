"""Lightning task modules and the parts they are built from. Importing this package registers
them in ``tformer.registry`` (TASKS, OBJECTIVES, GENERATORS, METRICS)."""

from . import generators, metrics, objectives
from .base import Task
from .classification import ClassificationTask
from .generators import Beam, CtcRescoredBeam, Generator, Greedy, Sampling
from .language_model import LanguageModelTask
from .objectives import CTC, Contrastive, CrossEntropy, Objective, Regression
from .translation import TranslationTask

__all__ = [
    "Task", "TranslationTask", "ClassificationTask", "LanguageModelTask",
    "Objective", "CrossEntropy", "CTC", "Contrastive", "Regression",
    "Generator", "Greedy", "Beam", "CtcRescoredBeam", "Sampling",
    "generators", "metrics", "objectives",
]
