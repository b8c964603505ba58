"""Lowering: turns IR ops into kernel calls with precomputed fixed-point parameters and an arena plan."""

from edgeprune.lower.program import KernelCall, Program, Scratch, lower_graph, register

__all__ = ["KernelCall", "Program", "Scratch", "lower_graph", "register"]
