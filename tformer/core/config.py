"""Remember constructor arguments, so a checkpoint can rebuild a module from plain data."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["RecordsArguments"]


class RecordsArguments:
    """Mixin: ``instance.init_kwargs`` holds the keyword arguments it was constructed with.

    Checkpoints store these (plain numbers and strings) instead of pickled objects, and
    ``tformer.load`` rebuilds the module from them before loading its weights.
    """

    init_kwargs: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any):
        obj = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(obj, *args, **kwargs)
        except TypeError:  # __init__ raises its own, clearer error; copies come here with no args
            arguments: dict[str, Any] = {}
        else:
            arguments = dict(list(bound.arguments.items())[1:])
            for name, param in inspect.signature(cls.__init__).parameters.items():
                if param.kind is param.VAR_KEYWORD:
                    arguments.update(arguments.pop(name, {}))
        object.__setattr__(obj, "init_kwargs", arguments)
        return obj
