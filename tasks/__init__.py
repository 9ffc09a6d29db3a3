"""Lightning task modules and the parts they are built from. Importing this package registers
them in ``tformer.registry`` (TASKS, OBJECTIVES, GENERATORS, METRICS)."""

from . import generators, metrics, objectives, ranking
from .base import Task
from .classification import ClassificationTask
from .generators import Beam, CtcRescoredBeam, Generator, Greedy, Sampling
from .language_model import LanguageModelTask
from .objectives import CTC, BinaryCrossEntropy, Contrastive, CrossEntropy, GuidedAttention, Objective, Regression
from .retrieval import RetrievalTask
from .tagging import TagCrossEntropy, TaggingTask
from .translation import TranslationTask
from .tts import TextToSpeechTask

__all__ = [
    "Task", "TranslationTask", "ClassificationTask", "LanguageModelTask", "TextToSpeechTask", "TaggingTask", "TagCrossEntropy",
    "RetrievalTask",
    "Objective", "CrossEntropy", "CTC", "Contrastive", "Regression", "BinaryCrossEntropy", "GuidedAttention",
    "Generator", "Greedy", "Beam", "CtcRescoredBeam", "Sampling",
    "generators", "metrics", "objectives", "ranking",
]
