"""Formats Python and numpy values as C99 literals (exact for floats, no warnings for INT32_MIN)."""

from __future__ import annotations

import math

import numpy as np

C_TYPES = {
    "int8": "int8_t",
    "uint8": "uint8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "float32": "float",
    "bool": "uint8_t",
}


def c_float(x: float) -> str:
    x = float(np.float32(x))
    if not math.isfinite(x):
        raise ValueError(f"non-finite float parameter {x}")
    s = f"{x:.9g}"  # 9 significant digits round-trip any float32 exactly
    if not any(c in s for c in ".en"):
        s += ".0"
    return s + "f"


def c_int(x: int) -> str:
    x = int(x)
    if x == -(2**31):
        return "(-2147483647 - 1)"
    if x == -(2**63):
        return "(-9223372036854775807LL - 1)"
    if abs(x) >= 2**31:
        return f"{x}LL"
    return str(x)


def c_scalar(x) -> str:
    if isinstance(x, (float, np.floating)):
        return c_float(float(x))
    if isinstance(x, (bool, np.bool_)):
        return "1" if x else "0"
    return c_int(int(x))


def c_initializer(value) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return "{" + ", ".join(c_scalar(v) for v in np.asarray(value).reshape(-1).tolist()) + "}"
    return c_scalar(value)


def c_array_body(arr: np.ndarray, per_line: int = 16) -> str:
    """The elements of an array, `per_line` to a line, ready to go between braces."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    if flat.dtype == np.float32:
        items = [c_float(v) for v in flat.tolist()]
    elif flat.dtype == np.bool_:
        items = ["1" if v else "0" for v in flat.tolist()]
    elif flat.dtype == np.int32 and (flat == -(2**31)).any():
        items = [c_int(v) for v in flat.tolist()]
    else:
        items = [str(v) for v in flat.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n  ".join(lines)
