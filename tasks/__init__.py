"""Lightning task modules and the parts they are built from. Importing this package registers
them in ``tformer.registry`` (TASKS, OBJECTIVES, GENERATORS, METRICS)."""

from . import alignment, generators, metrics, objectives, ranking
from .base import Task
from .classification import ClassificationTask
from .detection import DetectionTask
from .generators import Beam, CtcGreedy, CtcJointBeam, CtcRescoredBeam, Generator, Greedy, Sampling
from .language_model import LanguageModelTask
from .objectives import CTC, BinaryCrossEntropy, Contrastive, CrossEntropy, GuidedAttention, Objective, Regression
from .retrieval import RetrievalTask
from .set_losses import BoxGIoU, BoxL1, SetCrossEntropy
from .tagging import TagCrossEntropy, TaggingTask
from .translation import TranslationTask
from .tts import TextToSpeechTask
from .tts_parallel import ParallelTextToSpeechTask

__all__ = [
    "Task", "TranslationTask", "ClassificationTask", "LanguageModelTask", "TextToSpeechTask", "ParallelTextToSpeechTask", "TaggingTask", "TagCrossEntropy",
    "RetrievalTask", "DetectionTask", "SetCrossEntropy", "BoxL1", "BoxGIoU",
    "Objective", "CrossEntropy", "CTC", "Contrastive", "Regression", "BinaryCrossEntropy", "GuidedAttention",
    "Generator", "Greedy", "Beam", "CtcRescoredBeam", "CtcJointBeam", "CtcGreedy", "Sampling",
    "alignment", "generators", "metrics", "objectives", "ranking",
]
