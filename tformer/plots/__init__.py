"""Pictures of the model: sinusoidal positions, attention maps of a checkpoint, training curves.

Drawn with matplotlib's Agg canvas (no display, no pyplot state); the file suffix picks the
format (.png, .svg, .pdf).
"""

from .attention import attention_figure, plot_attention
from .curves import curves_figure, plot_curves, read_metrics
from .detection import boxes_figure, plot_boxes, plot_queries, queries_figure
from .figures import figure_to_array, save_figure
from .positions import plot_positions, positions_figure
from .weights import AttentionMaps, attention_for_input, collect_attention

__all__ = [
    "positions_figure",
    "plot_positions",
    "AttentionMaps",
    "collect_attention",
    "attention_for_input",
    "attention_figure",
    "plot_attention",
    "read_metrics",
    "curves_figure",
    "plot_curves",
    "boxes_figure",
    "plot_boxes",
    "queries_figure",
    "plot_queries",
    "save_figure",
    "figure_to_array",
]
