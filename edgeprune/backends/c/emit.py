"""Writes a lowered program as C: a C99 API header, the model code, const weights, build files, runtime.

The output folder is self-contained: a user copies it into firmware and builds it with CMake or Make.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from edgeprune.analysis.cost import op_macs
from edgeprune.backends.c.cvalues import C_TYPES, c_array_body, c_initializer
from edgeprune.ir import Tensor
from edgeprune.lower.program import Program, Scratch
from edgeprune.resources import csrc_dir

_DTYPE_ENUM = {"float32": "EP_FLOAT32", "int8": "EP_INT8", "uint8": "EP_UINT8", "int16": "EP_INT16",
               "int32": "EP_INT32"}
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass
class CArtifact:
    name: str
    out_dir: Path
    header: Path
    sources: list[Path]  # model sources (C)
    runtime_sources: list[Path]  # kernel sources (C++)
    include_dirs: list[Path]
    weight_symbols: list[str]  # const arrays holding model data (flash that grows with the model)


def c_identifier(name: str) -> str:
    ident = re.sub(r"[^0-9a-zA-Z_]", "_", name).strip("_").lower() or "model"
    return "m_" + ident if ident[0].isdigit() else ident


@dataclass
class _Array:
    symbol: str
    ctype: str
    length: int
    body: str
    comment: str


def _tensor_info(t: Tensor) -> dict:
    dims = list(t.shape) + [0] * (6 - len(t.shape))
    scale = t.quant.scalar_scale if t.quant is not None else 0.0
    zp = t.quant.scalar_zero_point if t.quant is not None else 0
    return {"name": t.name.replace('"', "'"), "dtype": _DTYPE_ENUM.get(t.dtype, "EP_INT8"), "rank": len(t.shape),
            "dims": c_initializer(dims), "bytes": t.nbytes, "scale": c_initializer(float(scale)), "zero_point": zp}


def _arg(program: Program, a, symbol_of: dict[int, str], delta: int = 0) -> str:
    """The C expression of a kernel argument, `delta` bytes past its start."""
    if isinstance(a, Tensor) and a.is_constant:
        return symbol_of[id(a)] if not delta else f"(const void *)((const char *){symbol_of[id(a)]} + {delta})"
    return f"(void *)(s_arena + {program.offset(a) + delta})"


def emit_c(program: Program, name: str, out_dir: Path, target_description: str = "") -> CArtifact:
    """Writes into out_dir (which must exist and be empty); the caller makes the write atomic."""
    name = c_identifier(name)
    upper = name.upper()
    out_dir = Path(out_dir)
    (out_dir / "include").mkdir(parents=True, exist_ok=True)
    (out_dir / "src").mkdir(exist_ok=True)

    arrays: list[_Array] = []
    symbol_of: dict[int, str] = {}
    for k, t in enumerate(program.const_tensors()):
        # Constants made by lowering (zero biases, re-laid-out weights) are not graph tensors (index -1).
        sym = f"{name}_w{t.index}" if t.index >= 0 else f"{name}_k{k}"
        symbol_of[id(t)] = sym
        arrays.append(_Array(sym, C_TYPES[t.dtype], t.num_elements, c_array_body(t.data.astype(t.dtype)),
                             f"{t.name} {list(t.shape)} {t.dtype}"))

    layers = []
    for i, call in enumerate(program.calls):
        fields = []
        for key, value in call.params.items():
            fields.append((key, c_initializer(value)))
        for key, arr in call.consts.items():
            arr = np.ascontiguousarray(arr)
            sym = f"{name}_l{i}_{key}"
            arrays.append(_Array(sym, C_TYPES[str(arr.dtype)], arr.size, c_array_body(arr), f"layer {i} {key}"))
            fields.append((key, sym))
        args = [_arg(program, a, symbol_of) for a in call.args]
        slices = []
        for sl in call.slices or ():
            sfields = [(key, c_initializer(value)) for key, value in sl.params.items()]
            sfields += [(key, f"{name}_l{i}_{key}") for key in call.consts]
            slices.append({"fields": sfields,
                           "args": [_arg(program, a, symbol_of, sl.deltas.get(j, 0)) for j, a in enumerate(call.args)]})
        out = call.args[call.outputs[0]] if call.args else None
        layers.append({
            "index": i,
            "op": call.op.kind,
            "op_index": call.op.index,
            "func": call.func,
            "params_type": call.params_type,
            "fields": fields,
            "args": args,
            "slices": slices,
            "shape": "x".join(str(d) for d in out.shape) if isinstance(out, Tensor) else "",
            "macs": op_macs(call.op),
            "weight_bytes": sum(a.nbytes for a in call.args if isinstance(a, Tensor) and a.is_constant),
            "arena": (f"{program.offset(out)}+{out.nbytes}" if isinstance(out, (Tensor, Scratch))
                      and not (isinstance(out, Tensor) and out.is_constant) else "-"),
        })

    graph = program.graph
    context = {
        "name": name,
        "upper": upper,
        "target": target_description,
        "arena_bytes": program.arena_bytes,
        "threads": program.threads,
        "layers": layers,
        "arrays": arrays,
        "inputs": [dict(_tensor_info(t), offset=program.offset(t)) for t in graph.inputs],
        "outputs": [dict(_tensor_info(t), offset=program.offset(t)) for t in graph.outputs],
        "total_macs": sum(x["macs"] for x in layers),
        "weight_bytes": program.weight_bytes,
    }
    files = {
        out_dir / "include" / f"{name}.h": "model.h.j2",
        out_dir / "src" / f"{name}.c": "model.c.j2",
        out_dir / "src" / f"{name}_weights.h": "weights.h.j2",
        out_dir / "src" / f"{name}_weights.c": "weights.c.j2",
        out_dir / "CMakeLists.txt": "CMakeLists.txt.j2",
        out_dir / "Makefile": "Makefile.j2",
    }
    for path, template in files.items():
        path.write_text(_ENV.get_template(template).render(**context))

    runtime = out_dir / "runtime"
    shutil.copytree(csrc_dir() / "include", runtime / "include")
    (runtime / "kernels").mkdir(parents=True)
    runtime_sources = []
    for src in sorted((csrc_dir() / "kernels").glob("*.cc")):
        dst = runtime / "kernels" / src.name
        shutil.copyfile(src, dst)
        runtime_sources.append(dst)
    return CArtifact(
        name=name,
        out_dir=out_dir,
        header=out_dir / "include" / f"{name}.h",
        sources=[out_dir / "src" / f"{name}.c", out_dir / "src" / f"{name}_weights.c"],
        runtime_sources=runtime_sources,
        include_dirs=[out_dir / "include", out_dir / "src", runtime / "include"],
        weight_symbols=[a.symbol for a in arrays],
    )
