"""``compile=``: torch.compile the core's layers one by one (regional) or the core as a whole."""

from __future__ import annotations

from torch import nn

__all__ = ["COMPILE_CHOICES", "compile_core"]

COMPILE_CHOICES = ("false", "regional", "whole")


def compile_core(core: nn.Module, how: bool | str | None) -> int:
    """Compile ``core`` in place as ``how`` says; returns the number of modules compiled.

    Args:
        how: ``false``/``None``: nothing. ``regional`` (or ``true``): every layer of every
            Encoder and Decoder stack on its own; the layers of a stack share their code, so
            torch compiles one and reuses it (compile time of one layer, not of the model).
            ``whole``: each stack (an encoder-decoder's encoder and decoder; the core itself where
            it is one stack) in one graph: longer to compile, fewer breaks between layers.
    """
    choice = str(how).lower() if how is not None else "false"
    if choice in ("false", "none"):
        return 0
    if choice not in ("true", "regional", "whole"):
        raise ValueError(f"compile={how!r}: choose one of {', '.join(COMPILE_CHOICES)} (true means regional)")
    stacks = [module for module in core.modules() if isinstance(getattr(module, "layers", None), nn.ModuleList)]
    if choice == "whole":  # tasks call an encoder-decoder's stacks, never its own forward
        compiled = stacks or [core]
    else:
        compiled = [layer for stack in stacks for layer in stack.layers]
        if not compiled:
            raise ValueError(f"compile=regional: {type(core).__name__} has no stack of layers; use compile=whole")
    for module in compiled:
        module.compile()
    return len(compiled)
