"""Pruning: one-shot structured channel pruning of IR graphs to a MAC budget, with least-squares reconstruction."""
