"""The LightningDataModule: raw splits + attached tokenizers -> DataLoaders of batches, one
``Batch`` per named field."""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

import lightning as L
import numpy as np
import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler

from tformer.data.datasets import PreparedDataset, split_off
from tformer.data.sampler import ResumableBatches, TokenBudgetBatchSampler
from tformer.data.sizes import estimate_sizes
from tformer.data.skipped import SkippedItems
from tformer.tokenizers.base import Tokenizer

__all__ = ["DataModule", "ReportSkippedItems"]

log = logging.getLogger(__name__)


class DataModule(L.LightningDataModule):
    """Train/valid/test raw datasets served as batches of named fields, ``{"source": Batch, ...}``.

    Batches hold ``batch_size`` items, or, when ``max_tokens`` is set, as many similar-length
    items as fit ``max(size) x count <= max_tokens`` (sizes from ``estimate_sizes``, the largest
    over the task's fields). Both paths shard across the trainer's processes (DDP) themselves.
    The task's tokenizers, one per field, are attached after they were fitted on the training
    split (``column``); a valid or test split given here with values a tokenizer does not know
    (a label never seen in training) is an error then. Items of a split-off valid split are
    skipped instead.

    Items that fail to prepare (a corrupt image, an unreadable audio file) are skipped; the
    ``ReportSkippedItems`` callback has ``warn_skipped`` report them once per split at the end
    of each epoch, counted over every worker process, and ``teardown`` reports any left.

    Args:
        train: the raw training dataset.
        valid: the raw validation dataset; when None, ``valid_fraction`` of ``train`` is split off.
        test: the raw test dataset (also used for prediction), or None.
        batch_size: items per batch when ``max_tokens`` is None.
        max_tokens: the token budget per batch, or None for fixed-size batches.
        num_workers: DataLoader worker processes (persistent when > 0).
        valid_fraction: the share of ``train`` held out when ``valid`` is None (0 for none).
        seed: the seed for the split and the shuffling.
        pin_memory: pin batches in page-locked memory, so that they reach the GPU asynchronously;
            ``"auto"``: when the trainer runs on CUDA.
        fields: the data field a task field reads where the names differ, task field -> data
            field (``{"text": "target"}``: a language model on the target side of parallel text).
        augment: task field -> a random transform of its raw values, for the training split only
            (``{"source": Augmentations([...])}``: speed, noise, reverberation of speech).
        prefetch_factor: batches each worker prepares ahead (torch's default, 2, when None).
    """

    def __init__(
        self,
        train: Dataset,
        valid: Dataset | None = None,
        test: Dataset | None = None,
        batch_size: int = 32,
        max_tokens: int | None = None,
        num_workers: int = 0,
        valid_fraction: float = 0.05,
        seed: int = 0,
        pin_memory: bool | str = "auto",
        fields: Mapping[str, str] | None = None,
        augment: Mapping[str, Callable[[Any], Any]] | None = None,
        prefetch_factor: int | None = None,
    ):
        super().__init__()
        self._given_splits = [name for name, split in (("valid", valid), ("test", test)) if split is not None]
        if valid is None and valid_fraction > 0:
            train, valid = split_off(train, valid_fraction, seed)
        self.train, self.valid, self.test = train, valid, test
        self.batch_size, self.max_tokens, self.num_workers = batch_size, max_tokens, num_workers
        if pin_memory not in (True, False, "auto"):
            raise ValueError(f"data.pin_memory={pin_memory!r}: choose true, false or auto (pin when training on CUDA)")
        self.seed, self.pin_memory, self.prefetch_factor = seed, pin_memory, prefetch_factor
        self.renamed = dict(fields or {})
        self.augment = dict(augment or {})
        self.tokenizers: dict[str, Tokenizer] = {}
        self._sizes: dict[int, np.ndarray] = {}
        self._prepared: dict[str, PreparedDataset] = {}  # the datasets of the loaders made last, by split
        self.skipped = SkippedItems()

    def column_of(self, field: str) -> str:
        """The data field that task field ``field`` reads."""
        return self.renamed.get(field, field)

    def attach(self, tokenizers: Mapping[str, Tokenizer]) -> None:
        """Set the (fitted) tokenizers of the task's fields, whose ``prepare``/``collate`` build the batches.

        Args:
            tokenizers: task field -> its tokenizer.
        """
        self.tokenizers = dict(tokenizers)
        self._sizes.clear()
        unknown = sorted(set(self.augment) - set(self.tokenizers))
        if unknown:
            raise ValueError(f"data.augment: no task field {', '.join(map(repr, unknown))}; "
                             f"the task's fields: {', '.join(self.tokenizers)}")
        for name in self._given_splits:  # e.g. a test label never seen in training: fail now, not skip it
            split = getattr(self, name)
            origin = getattr(split, "path", None) or getattr(split, "root", None)
            where = f"the {name} split" + (f" ({origin})" if origin else "")
            for field, tokenizer in self.tokenizers.items():
                tokenizer.check(split.column(self.column_of(field)), where)

    def setup(self, stage: str) -> None:
        # The loaders shard batches across processes themselves (token budgets, exact resume);
        # Lightning must not wrap them in a DistributedSampler of its own.
        connector = getattr(self.trainer, "_accelerator_connector", None)
        if connector is not None:
            connector.use_distributed_sampler = False

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train, "train")

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.valid is None else self._loader(self.valid, "valid")

    def test_dataloader(self) -> DataLoader | list:
        return [] if self.test is None else self._loader(self.test, "test")

    def predict_dataloader(self) -> DataLoader | list:
        return self.test_dataloader()

    def warn_skipped(self, split: str) -> int:
        """Warn once about the items of ``split`` that failed to prepare since its last warning.

        Args:
            split: "train", "valid" or "test".
        Returns:
            How many items failed since then (0: nothing new, no warning).
        """
        prepared = self._prepared.get(split)
        return 0 if prepared is None else self.skipped.warn(split, prepared)

    def teardown(self, stage: str) -> None:
        """Report what no epoch end reported (a Trainer without ``ReportSkippedItems``, an interrupted run)."""
        for split in self._prepared:
            self.warn_skipped(split)

    def pins_memory(self) -> bool:
        """``pin_memory``, with ``"auto"`` resolved: pinned when the attached trainer runs on CUDA."""
        if self.pin_memory != "auto":
            return bool(self.pin_memory)
        trainer = getattr(self, "trainer", None)
        return trainer is not None and isinstance(trainer.accelerator, CUDAAccelerator)

    def _loader(self, raw: Dataset, split: str) -> DataLoader:
        if not self.tokenizers:
            raise RuntimeError("call DataModule.attach(tokenizers) before asking for data")
        training = split == "train"
        augment = self.augment if training else None
        prepared = self._prepared[split] = PreparedDataset(raw, self.tokenizers, self.renamed, augment)
        options = dict(
            collate_fn=prepared.collate, num_workers=self.num_workers, pin_memory=self.pins_memory(),
            persistent_workers=self.num_workers > 0,
        )
        if self.num_workers > 0 and self.prefetch_factor is not None:
            options["prefetch_factor"] = self.prefetch_factor
        replicas, rank = self._replicas()
        if self.max_tokens is not None:
            batches = TokenBudgetBatchSampler(
                self._item_sizes(raw), self.max_tokens, shuffle=training, seed=self.seed,
                num_replicas=replicas, rank=rank,
            )
        else:  # the order depends only on (seed, epoch), with one process or many
            order = DistributedSampler(prepared, replicas, rank, shuffle=training, seed=self.seed)
            batches = BatchSampler(order, self.batch_size, drop_last=False)
        batches = ResumableBatches(batches, self._batches_done_this_epoch) if training else ResumableBatches(batches)
        return DataLoader(prepared, batch_sampler=batches, **options)

    def _batches_done_this_epoch(self) -> int:
        """Batches of the current epoch already trained on, when resuming a mid-epoch checkpoint."""
        trainer = self.trainer
        if trainer is None or not trainer.fit_loop.restarting:
            return 0
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if done:
            log.info("resuming mid-epoch: skipping the %d batches of epoch %d already trained on", done, trainer.current_epoch)
        return done

    def _item_sizes(self, raw: Dataset) -> np.ndarray:
        if id(raw) not in self._sizes:
            self._sizes[id(raw)] = estimate_sizes(raw, self.tokenizers, self.renamed, seed=self.seed)
        return self._sizes[id(raw)]

    def _replicas(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is not None:
            return trainer.world_size, trainer.global_rank
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_world_size(), torch.distributed.get_rank()
        return 1, 0


class ReportSkippedItems(L.Callback):
    """At the end of each train, validation and test epoch, one warning per split about the data
    items that could not be prepared (``DataModule.warn_skipped``), counted over every DataLoader
    worker; items that fail again in later epochs are not reported again.

    An epoch's end is the first moment every batch of the epoch has arrived, so the count is
    complete; a warning per batch would repeat itself, and the DataModule sees no epoch ends.
    """

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _warn_skipped(trainer, "train")

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:  # the sanity check sees a few batches; the real epoch counts
            _warn_skipped(trainer, "valid")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _warn_skipped(trainer, "test")

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _warn_skipped(trainer, "test")  # the DataModule predicts on its test split


def _warn_skipped(trainer: L.Trainer, split: str) -> None:
    if isinstance(trainer.datamodule, DataModule):
        trainer.datamodule.warn_skipped(split)
