"""Turn the errors a user can cause into one clear line and a non-zero exit, not a stack trace."""

from __future__ import annotations

import contextlib
import difflib
import functools
import os
import sys
from typing import Any, Callable, Iterator

from hydra.errors import ConfigCompositionException, HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from ..checkpoint import CheckpointError

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
                message = error.args[0] if isinstance(error, KeyError) and error.args else error
                print(f"{program}: error: {message}", file=sys.stderr)
                print(f"{program}: (set TFORMER_DEBUG=1 for the full trace)", file=sys.stderr)
                sys.exit(2)

        return wrapper

    return decorator


@contextlib.contextmanager
def explain_config_errors(program: str) -> Iterator[None]:
    """Around a Hydra app: when Hydra refuses a misspelt key (it prints the error and exits),
    add a line with the closest key and the keys that config node has."""
    try:
        yield
    except SystemExit as exit:
        hint = unknown_key_hint(exit.__context__)  # the error Hydra reported, if any
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
