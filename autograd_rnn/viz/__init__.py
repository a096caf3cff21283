"""Seeing inside: gradient flow through time (measured and drawn) and the computational graph
drawn as Graphviz DOT."""

from .flow import FlowRecord, gradient_flow
from .flowplot import draw_flow, flow_png, plot_gradient_flow

__all__ = ["FlowRecord", "gradient_flow", "draw_flow", "flow_png", "plot_gradient_flow"]
