"""Pruning to device budgets: budgets, cost estimates, channel pruning, recovery, export."""
