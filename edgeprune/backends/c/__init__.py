"""The C backend: a lowered program becomes a self-contained C99 folder for firmware."""

from edgeprune.backends.c.emit import CArtifact, emit_c

__all__ = ["CArtifact", "emit_c"]
