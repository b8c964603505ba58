"""The one exception family of edgeprune.

The CLI turns every EdgePruneError into a single line on stderr and exit code 2; anything else is a bug.
"""


class EdgePruneError(Exception):
    """Base class: a problem with the user's input or environment, reported without a traceback."""


class ModelFormatError(EdgePruneError):
    """The model file is missing, truncated, corrupt or not of the expected format."""


class UnsupportedOpError(EdgePruneError):
    """The model uses an operator, attribute or tensor type that edgeprune cannot compile."""


class BudgetError(EdgePruneError):
    """A budget is malformed or cannot be met."""


class TargetError(EdgePruneError):
    """Unknown or malformed device profile."""


class ToolchainError(EdgePruneError):
    """A cross compiler, QEMU or another external tool is missing or failed."""


class VerificationError(EdgePruneError):
    """A generated artifact could not be run or checked."""
