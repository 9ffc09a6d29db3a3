"""Datasets for real file formats, built-in data sets, token-budget batching and the DataModule.

Importing this package registers every dataset in ``tformer.registry.DATASETS``.
"""

from tformer.data.audio import ManifestDataset
from tformer.data.boxes import DetectionBoxesDataset
from tformer.data.builtin import BUILTINS, Builtin, data_root, prepared_folder
from tformer.data.datasets import INDEX, PreparedDataset, RawConcat, RawDataset, RawSubset, split_off
from tformer.data.errors import DataError, DataWarning
from tformer.data.fashion_canvas import fashion_canvas
from tformer.data.fashion_mnist import fashion_mnist
from tformer.data.fillets_speech import FilletsSpeechDataset, fillets_speech
from tformer.data.fortunes import FortunesDataset, fortunes
from tformer.data.freedict import freedict_de_en
from tformer.data.images import FASHION_MNIST_CLASSES, IdxImageDataset, ImageFolderDataset, read_idx, write_idx
from tformer.data.module import DataModule, ReportSkippedItems
from tformer.data.sampler import TokenBudgetBatchSampler
from tformer.data.sizes import estimate_sizes
from tformer.data.skipped import SkippedItems
from tformer.data.recorded_digits import recorded_digits
from tformer.data.speech import espeak_digits, espeak_sentences
from tformer.data.fillets_text import FilletsTextDataset, fillets_text
from tformer.data.punctuation import punctuation_en, punctuation_fortunes
from tformer.data.tagged import TaggedTextDataset
from tformer.data.text import LabeledTextDataset, ParallelTextDataset
from tformer.data.text_lines import TextLinesDataset, text_lines

__all__ = [
    "DataError", "DataWarning",
    "RawDataset", "RawSubset", "RawConcat", "PreparedDataset", "SkippedItems", "split_off", "INDEX",
    "ParallelTextDataset", "LabeledTextDataset", "TaggedTextDataset", "ImageFolderDataset", "IdxImageDataset",
    "ManifestDataset", "punctuation_en", "punctuation_fortunes", "DetectionBoxesDataset", "fashion_canvas",
    "read_idx", "write_idx", "FASHION_MNIST_CLASSES",
    "TokenBudgetBatchSampler", "DataModule", "ReportSkippedItems", "estimate_sizes",
    "Builtin", "BUILTINS", "data_root", "prepared_folder",
    "TextLinesDataset", "text_lines",
    "FortunesDataset", "FilletsSpeechDataset", "fillets_speech", "FilletsTextDataset", "fillets_text", "freedict_de_en", "fashion_mnist", "fortunes", "espeak_digits", "espeak_sentences",
    "recorded_digits",
]
