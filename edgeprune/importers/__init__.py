"""Importers turn a model file into the IR."""

from edgeprune.importers.tflite import load_tflite

__all__ = ["load_tflite"]
