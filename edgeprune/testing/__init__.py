"""Helpers for tests and verification: reference runs in LiteRT and single-op model construction."""
