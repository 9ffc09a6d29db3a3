"""Name -> class registries, with entry-point discovery of third-party plug-ins.

Built-in classes register themselves with a decorator when their module is imported;
outside packages declare an entry point in the group ``tformer.plugins`` whose value is a
module that registers its classes on import (``pip install`` is all a user does).
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import inspect
import logging
from typing import Any, Callable, Iterable, Sequence, TypeVar

__all__ = ["Registry", "TOKENIZERS", "DATASETS", "TASKS", "CORES", "OBJECTIVES", "GENERATORS", "METRICS", "ENTRY_POINT_GROUP", "load_plugins", "distribution_of"]

ENTRY_POINT_GROUP = "tformer.plugins"
log = logging.getLogger(__name__)
T = TypeVar("T")


class Registry:
    """A named collection of classes (or builder functions).

    Args:
        kind: what the entries are, used in error messages ("tokenizer", "dataset").
        base: optional base class every registered class must derive from.
    """

    def __init__(self, kind: str, base: type | None = None):
        self.kind = kind
        self.base = base
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register a class or builder under ``name``."""

        def decorator(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered by "
                    f"{_qualname(self._entries[name])}; choose another name for {_qualname(obj)}"
                )
            if self.base is not None and inspect.isclass(obj) and not issubclass(obj, self.base):
                raise TypeError(f"{self.kind} {name!r}: {_qualname(obj)} must subclass {self.base.__name__}")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> Callable[..., Any]:
        """The class registered under ``name``; a ``KeyError`` lists the known names otherwise."""
        if name not in self._entries:
            load_plugins()
        if name not in self._entries:
            raise KeyError(self._unknown_message(name))
        return self._entries[name]

    def build(self, name: str, **kwargs: Any) -> Any:
        """Instantiate ``name`` with ``kwargs``, checking them against the constructor first."""
        target = self.get(name)
        check_arguments(target, kwargs, where=f"{self.kind} {name!r}")
        return target(**kwargs)

    def name_of(self, obj: Any) -> str:
        """The name ``obj`` (a registered class or builder, or an instance of a class) is registered under."""
        cls = obj if inspect.isclass(obj) else type(obj)
        for name, entry in self._entries.items():
            if entry is obj or entry is cls:
                return name
        raise KeyError(f"{_qualname(cls)} is not a registered {self.kind}; register it with @{self.kind.upper()}S.register(name)")

    def names(self) -> list[str]:
        load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        load_plugins()
        return name in self._entries

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def _unknown_message(self, name: str) -> str:
        known = sorted(self._entries)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Registered: {', '.join(known) or '(none)'}"


def check_arguments(target: Callable[..., Any], kwargs: dict[str, Any], where: str) -> None:
    """Raise ``TypeError`` naming any keyword ``target`` does not accept or requires and lacks."""
    signature = inspect.signature(target)
    params = signature.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{where}: unknown argument {key!r}.{hint} Accepted: {', '.join(accepted)}")
    missing = [
        n for n, p in params.items()
        if n in accepted and p.default is p.empty and n not in kwargs
    ]
    if missing:
        raise TypeError(f"{where}: missing required argument(s) {', '.join(map(repr, missing))}")


def stray_argument_message(key: str, names: str | Sequence[str], target: Callable[..., Any],
                           skip: tuple[str, ...] = ("self",)) -> str:
    """``"task.generator.beam_size is not an argument of CtcGreedy. Its arguments: objective (remove it with
    ~task.generator.beam_size)"``: config key ``key`` holds ``names`` (one, or several named together),
    which ``target`` does not take; ``skip``: arguments the config never sets (an optimizer's ``params``)."""
    names = [names] if isinstance(names, str) else list(names)
    parameters = inspect.signature(target).parameters
    accepted = [n for n, p in parameters.items() if n not in skip and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    close = {name: difflib.get_close_matches(name, accepted, n=1) for name in names}
    keys = [f"{key}.{name}" for name in names]
    arguments = f"Its arguments: {', '.join(accepted) or 'none'}"
    if len(names) == 1:
        hint = f" Did you mean {close[names[0]][0]!r}?" if close[names[0]] else ""
        return f"{keys[0]} is not an argument of {_name(target)}.{hint} {arguments} (remove it with ~{keys[0]})"
    hints = "".join(f" Did you mean {match[0]!r} for {name}?" for name, match in close.items() if match)
    return (f"{', '.join(keys)} are not arguments of {_name(target)}.{hints} {arguments} "
            f"(remove them with {' '.join('~' + k for k in keys)})")


def stray_names(names: Iterable[str], target: Callable[..., Any]) -> list[str]:
    """Those of ``names`` that ``target`` takes no argument by (none if it takes ``**kwargs``, or
    has no signature Python can read)."""
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return []
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return []
    return [name for name in names if name not in parameters]


def _name(target: Callable[..., Any]) -> str:
    return getattr(target, "__name__", str(target))


_plugins_loaded = False


def load_plugins() -> None:
    """Import every module named by an entry point in the group ``tformer.plugins`` (once)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as error:  # a broken plug-in must not break tformer itself
            log.warning("tformer plug-in %r (%s) failed to load: %s", entry.name, entry.value, error)


def distribution_of(obj: Any) -> dict[str, str] | None:
    """The installed distribution that provides ``obj``'s class (a class or an instance).

    Returns:
        ``{"name": ..., "version": ...}`` (plain data, as checkpoints hold it), or ``None`` for
        tformer's own classes and for classes no installed distribution ships (a script, a test).
    """
    cls = obj if inspect.isclass(obj) else type(obj)
    found = _distribution_of_package(cls.__module__.partition(".")[0])
    return dict(found) if found is not None else None  # a copy: the cached one stays as found


@functools.lru_cache(maxsize=None)
def _distribution_of_package(package: str) -> dict[str, str] | None:
    if package in ("tformer", "__main__", "builtins"):
        return None
    # The entry point that imports the package names its distribution, even one laid out without
    # a RECORD file; packages_distributions() covers packages imported some other way.
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.value.split(":")[0].split(".")[0] == package and entry.dist is not None:
            return {"name": entry.dist.name, "version": entry.dist.version}
    names = [n for n in importlib.metadata.packages_distributions().get(package, []) if n != "tformer"]
    if not names:
        return None
    return {"name": names[0], "version": importlib.metadata.version(names[0])}


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


TOKENIZERS = Registry("tokenizer")
DATASETS = Registry("dataset")
TASKS = Registry("task")
CORES = Registry("core")
OBJECTIVES = Registry("objective")  # losses a task is built from (tformer.tasks.objectives)
GENERATORS = Registry("generator")  # searches and samplers that decode (tformer.tasks.generators)
METRICS = Registry("metric")  # text metrics: update(hypotheses, references) (tformer.tasks.metrics)
