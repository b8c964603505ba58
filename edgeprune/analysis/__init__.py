"""Analyses that read the IR or a lowered program: cost model and memory planning."""
