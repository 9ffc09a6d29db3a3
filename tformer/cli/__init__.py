"""Command-line programs: tformer-train, tformer-predict, tformer-data (thin Hydra/argparse apps)."""

from pathlib import Path

from .. import conf

# tformer.conf is the repository's conf/ in an editable install and tformer/conf in a wheel.
CONFIG_DIR = str(Path(conf.__file__).resolve().parent)
