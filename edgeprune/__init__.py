"""edgeprune: compile and prune neural networks for microcontrollers and ARM Linux.

The pipeline is the package layout: importers -> ir -> analysis -> lower -> backends -> targets.
"""

__version__ = "0.1.0"
