"""Command-line programs: tformer-train, tformer-predict, tformer-data (thin Hydra/argparse apps)."""

from pathlib import Path

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")
