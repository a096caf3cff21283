"""Seeing inside: gradient flow through time (measured and drawn) and the computational graph
drawn as Graphviz DOT."""

from .dot import Drawing, draw_graph, draw_step
from .flow import FlowRecord, gradient_flow
from .flowplot import draw_flow, flow_png, plot_gradient_flow

__all__ = ["FlowRecord", "gradient_flow", "draw_flow", "flow_png", "plot_gradient_flow", "Drawing", "draw_graph",
           "draw_step"]
