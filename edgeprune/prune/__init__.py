"""Pruning PyTorch models to device budgets, and their export to .tflite."""
