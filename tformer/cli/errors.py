"""Turn the errors a user can cause into one clear line and a non-zero exit, not a stack trace."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable

from hydra.errors import HydraException
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
