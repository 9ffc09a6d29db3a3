"""One warning per split about the data items that could not be prepared, in any DataLoader worker."""

from __future__ import annotations

import warnings

from tformer.data.datasets import PreparedDataset
from tformer.data.errors import DataWarning

__all__ = ["SkippedItems"]


class SkippedItems:
    """Remembers which failed items of each split were reported, and warns once about new ones.

    The same bad items fail again every epoch and in every worker; they are counted once. A
    later warning for the same split comes only when items fail that no warning counted yet.

    Args:
        shown: how many of the newly failed items a warning describes.
    """

    def __init__(self, shown: int = 5):
        self.shown = shown
        self.reported: dict[str, set[int]] = {}

    def warn(self, split: str, dataset: PreparedDataset) -> int:
        """Emit one ``DataWarning`` naming ``split`` if items failed there that were not reported yet.

        Args:
            split: the split's name for the message ("train", "valid", "test").
            dataset: the split's prepared dataset, whose ``failed`` flags every worker sets.
        Returns:
            How many items failed since the last warning for ``split`` (0: no warning).
        """
        reported = self.reported.setdefault(split, set())
        new = [index for index in dataset.failed_indices() if index not in reported]
        if not new:
            return 0
        reported.update(new)
        described = "; ".join(dataset.describe_failure(index) for index in new[: self.shown])
        more = f"; and {len(new) - self.shown} more" if len(new) > self.shown else ""
        since = f" ({len(new)} new)" if len(new) < len(reported) else ""
        warnings.warn(
            f"{split} split: skipped {len(reported)} item(s) that could not be prepared{since}: {described}{more}",
            DataWarning, stacklevel=2,
        )
        return len(new)
