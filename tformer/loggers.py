"""A CSV logger whose curve survives a resumed run (Lightning's own deletes metrics.csv)."""

from __future__ import annotations

import csv
import os

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

__all__ = ["CSVLogger"]


class _ContinuingWriter(ExperimentWriter):
    """Appends to an existing ``metrics.csv`` instead of deleting it, widening its header when
    new columns appear."""

    def _check_log_dir_exists(self) -> None:
        pass

    def _record_new_keys(self) -> set[str]:
        if not self.metrics_keys and os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as handle:
                self.metrics_keys = list(csv.DictReader(handle).fieldnames or [])
        return super()._record_new_keys()

    def drop_from(self, step: int) -> None:
        """Forget logged rows at ``step`` or later: a resumed run logs them again."""
        if not os.path.isfile(self.metrics_file_path):
            return
        with open(self.metrics_file_path, newline="") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames or [], [r for r in reader if int(float(r.get("step") or 0)) < step]
        tmp = self.metrics_file_path + ".tmp"
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.metrics_file_path)


class CSVLogger(_LightningCSVLogger):
    """Lightning's CSV logger, except that a run resumed in the same directory continues its
    ``metrics.csv``: rows up to the checkpoint's step are kept, later ones are logged again."""

    @property
    def experiment(self) -> _ContinuingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(log_dir=self.log_dir)
        return self._experiment

    def on_resume(self, step: int) -> None:
        self.experiment.drop_from(step)
