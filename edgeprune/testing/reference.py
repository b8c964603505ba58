"""The reference every result is checked against: LiteRT with its reference kernels (BUILTIN_REF)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def litert_run(model: str | Path | bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kwargs = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF}
    if isinstance(model, (bytes, bytearray)):
        interp = Interpreter(model_content=bytes(model), **kwargs)
    else:
        interp = Interpreter(model_path=str(model), **kwargs)
    interp.allocate_tensors()
    for d, x in zip(interp.get_input_details(), inputs):
        interp.set_tensor(d["index"], np.asarray(x, dtype=d["dtype"]).reshape(d["shape"]))
    interp.invoke()
    return [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()]


def deterministic_input(shape, dtype: str, seed: int) -> np.ndarray:
    """Input i of a verification run: seed 0 is the baselines' pattern ((i*37+11) % 256) - 128."""
    n = int(np.prod(shape))
    if dtype == "float32":
        rng = np.random.default_rng(seed)
        return rng.uniform(-1.0, 1.0, size=n).astype(np.float32).reshape(shape)
    i = np.arange(n, dtype=np.int64)
    if seed == 0:
        vals = (i * 37 + 11) % 256 - 128
    else:
        vals = np.random.default_rng(seed).integers(-128, 128, size=n)
    info = np.iinfo(dtype)
    return np.clip(vals, info.min, info.max).astype(dtype).reshape(shape)
