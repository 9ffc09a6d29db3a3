"""Turn the errors a user can cause into one clear line and a non-zero exit, not a stack trace."""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from hydra.errors import ConfigCompositionException, HydraException, InstantiationException, MissingConfigException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from ..checkpoint import CheckpointError
from ..registry import DATASETS, TASKS, TOKENIZERS, Registry, distribution_of, stray_argument_message

# Errors raised on bad input (files, config values, shapes); TFORMER_DEBUG=1 shows the trace.
USER_ERRORS = (ValueError, KeyError, TypeError, FileNotFoundError, OmegaConfBaseException, HydraException, CheckpointError)


def friendly_errors(program: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: print ``program: error: message`` and exit 2 on a user error."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except USER_ERRORS as error:
                if os.environ.get("TFORMER_DEBUG"):
                    raise
                print(f"{program}: error: {user_message(error)}", file=sys.stderr)
                print(f"{program}: (set TFORMER_DEBUG=1 for the full trace)", file=sys.stderr)
                sys.exit(2)

        return wrapper

    return decorator


def user_message(error: BaseException) -> str:
    """The line a user reads: a KeyError's text without quotes; for a class that refused its
    config values (Hydra wraps the error in ``InstantiationException``), the class and its reason."""
    cause = error.__cause__
    if isinstance(error, InstantiationException) and isinstance(cause, USER_ERRORS):
        target = str(error).split("'")[1] if str(error).count("'") >= 2 else "an object"
        return f"building {target}: {stray_argument(error, target) or user_message(cause)}"
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


def stray_argument(error: InstantiationException, target: str) -> str | None:
    """For a config key the class does not take (a recipe's ``beam_size`` kept when
    ``task/generator=ctc_greedy`` replaces its beam): the key, the class's arguments and the override
    that drops it; None for other errors."""
    match = re.search(r"unexpected keyword argument '(\w+)'", str(error.__cause__))
    where = re.search(r"full_key: (\S+)", str(error))
    if not match or not where:
        return None
    module, _, name = target.rpartition(".")
    try:
        return stray_argument_message(where.group(1), match.group(1), getattr(importlib.import_module(module), name))
    except (ImportError, AttributeError, ValueError, TypeError):
        return None


@contextlib.contextmanager
def explain_config_errors(program: str) -> Iterator[None]:
    """Around a Hydra app: when Hydra refuses a misspelt key or a missing config file (it prints
    the error and exits), add a line with the closest key, or with the plug-in that lacks the file."""
    try:
        yield
    except SystemExit as exit:
        error = exit.__context__  # the error Hydra reported, if any
        hint = unknown_key_hint(error) or missing_plugin_config_hint(error)
        if hint:
            print(f"{program}: {hint}", file=sys.stderr)
        raise


def unknown_key_hint(error: BaseException | None) -> str | None:
    """``"data has no key 'batch_sze'. Did you mean 'batch_size'? Its keys: ..."``, or None."""
    cause = getattr(error, "__cause__", None)
    if not isinstance(error, ConfigCompositionException) or not isinstance(cause, OmegaConfBaseException):
        return None
    parent = getattr(cause, "parent_node", None)
    if not isinstance(parent, DictConfig) or cause.key is None:
        return None
    keys = [str(key) for key in parent.keys() if key != "hydra"]
    close = difflib.get_close_matches(str(cause.key), keys, n=1)
    node = (cause.full_key or "").rpartition(".")[0] or "the config"
    guess = f" Did you mean {close[0]!r}?" if close else ""
    return f"{node} has no key {str(cause.key)!r}.{guess} Its keys: {', '.join(keys)}"


# The registry whose names a config group's files carry; other groups (source, target, fields) hold tokenizers.
_GROUP_REGISTRIES: dict[str, Registry] = {"task": TASKS, "data": DATASETS}


def missing_plugin_config_hint(error: BaseException | None) -> str | None:
    """When Hydra finds no ``GROUP/NAME`` but an installed plug-in registers ``NAME``: which
    distribution it is, the file it did not ship and the pyproject lines that ship it; or None."""
    missing = getattr(error, "missing_cfg_file", None) if isinstance(error, MissingConfigException) else None
    group, _, name = (missing or "").rpartition("/")
    if not group or "/" in group or not name:  # nested groups (task/optimizer) hold no registry names
        return None
    registry = _GROUP_REGISTRIES.get(group, TOKENIZERS)
    try:
        entry = registry.get(name)  # imports the tformer.plugins entry points first
    except KeyError:
        return None
    distribution = distribution_of(entry)
    package = getattr(entry, "__module__", "").partition(".")[0]
    if distribution is None or _ships(package, f"conf/{group}/{name}.yaml"):
        return None
    return (f"{registry.kind} {name!r} is registered by the installed plug-in {distribution['name']} "
            f"{distribution['version']}, which ships no {package}/conf/{group}/{name}.yaml; add that file and, "
            f'in its pyproject.toml, [tool.setuptools.package-data] {package} = ["conf/*/*.yaml"] '
            "(setuptools installs only .py files unless told), then reinstall it")


def _ships(package: str, relative: str) -> bool:
    """Whether the installed ``package`` holds the file ``relative`` (a config Hydra then misses for another reason)."""
    spec = importlib.util.find_spec(package) if package else None
    folders = (spec.submodule_search_locations or []) if spec else []
    return any((Path(folder) / relative).is_file() for folder in folders)
