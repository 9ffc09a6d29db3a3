"""Hydra finds the config files tformer plug-ins ship: ``<plugin package>/conf/<group>/<name>.yaml``.

Hydra discovers this module because it lives in the ``hydra_plugins`` namespace package; for
every entry point in the group ``tformer.plugins`` whose package has a ``conf`` folder, that
folder joins the config search path, so ``source=dna_kmer`` works right after ``pip install``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


def plugin_config_dirs() -> list[tuple[str, Path]]:
    """(entry-point name, conf folder) for each tformer plug-in that ships configs."""
    found = []
    for entry in importlib.metadata.entry_points(group="tformer.plugins"):
        package = entry.value.split(":")[0].split(".")[0]
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            if (Path(location) / "conf").is_dir():
                found.append((entry.name, Path(location) / "conf"))
    return found


class TformerPluginSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for name, folder in plugin_config_dirs():
            search_path.append(provider=f"tformer-plugin-{name}", path=f"file://{folder}")
