"""Command-line programs: tformer-train, tformer-predict, tformer-data (thin Hydra/argparse apps)."""

from pathlib import Path

from hydra.core.plugins import Plugins

from hydra_plugins.tformer_plugins.search_path import TformerPluginSearchPath

from .. import conf

# tformer.conf is the repository's conf/ in an editable install and tformer/conf in a wheel.
CONFIG_DIR = str(Path(conf.__file__).resolve().parent)

# Hydra finds search-path plug-ins by listing the hydra_plugins namespace package, and the import
# hook of an editable install hides our folder from that listing: outside the repository root,
# plug-in configs (source=dna_kmer) were not found. Plugins.register is Hydra's public way in; it
# ignores a class it already discovered.
Plugins.instance().register(TformerPluginSearchPath)
