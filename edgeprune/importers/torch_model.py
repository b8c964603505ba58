"""Loads a PyTorch model for the CLI: a factory in a Python file, optional weights, and an input shape.

`path/file.py:factory` names a callable in a user's file that returns an nn.Module; `load_weights` fills it
from a checkpoint saved with torch.save. torch is imported lazily so the rest of edgeprune works without it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

from edgeprune.errors import EdgePruneError, ModelFormatError


def _torch():
    try:
        import torch
    except ImportError as e:
        raise EdgePruneError(f"PyTorch models need the torch package ({e}); install torch") from None
    return torch


def load_callable(spec: str, what: str = "factory"):
    """`path/file.py:name` -> the object called `name` in that file (imported with its folder on sys.path)."""
    path_s, sep, name = str(spec).rpartition(":")
    if not sep or not path_s or not name:
        raise ModelFormatError(f"'{spec}': expected path/file.py:{what}")
    path = Path(path_s).expanduser()
    if not path.is_file():
        raise ModelFormatError(f"{path}: no such file (from '{spec}')")
    if not name.isidentifier():
        raise ModelFormatError(f"{path}: '{name}' is not a valid Python name")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    mod_name = f"_edgeprune_user_{digest}"
    mod_spec = importlib.util.spec_from_file_location(mod_name, path)
    if mod_spec is None or mod_spec.loader is None:
        raise ModelFormatError(f"{path}: cannot be loaded as a Python module")
    module = sys.modules.get(mod_name)
    if module is None:
        module = importlib.util.module_from_spec(mod_spec)
        folder = str(path.resolve().parent)
        sys.path.insert(0, folder)  # the file may import its neighbours
        sys.modules[mod_name] = module
        try:
            mod_spec.loader.exec_module(module)
        except Exception as e:  # user code fails in any way; report it in one line
            sys.modules.pop(mod_name, None)
            raise ModelFormatError(f"{path}: importing the file failed: {type(e).__name__}: {e}") from None
        finally:
            try:
                sys.path.remove(folder)
            except ValueError:
                pass
    if not hasattr(module, name):
        raise ModelFormatError(f"{path}: has no attribute '{name}'")
    return getattr(module, name)


def call_user(fn, path_and_name: str):
    """Calls user code, reporting any failure in one line naming it."""
    try:
        return fn()
    except Exception as e:  # user code
        raise ModelFormatError(f"{path_and_name}: calling it failed: {type(e).__name__}: {e}") from None


def load_factory(spec: str):
    """`path/file.py:factory` -> the nn.Module that `factory()` returns (or a module-level nn.Module)."""
    torch = _torch()
    factory = load_callable(spec, "factory")
    if isinstance(factory, torch.nn.Module):
        return factory
    path, _, name = str(spec).rpartition(":")
    if not callable(factory):
        raise ModelFormatError(f"{path}: '{name}' is not callable (it is a {type(factory).__name__})")
    model = call_user(factory, f"{path}: '{name}()'")
    if not isinstance(model, torch.nn.Module):
        raise ModelFormatError(f"{path}: '{name}()' returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _state_dict_of(obj, path: Path) -> dict:
    torch = _torch()
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, dict):
                obj = inner
                break
            if isinstance(inner, torch.nn.Module):
                return inner.state_dict()
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise ModelFormatError(f"{path}: not a state dict (got a {type(obj).__name__}); save "
                               f"model.state_dict() with torch.save")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelFormatError(f"{path}: entry '{bad[0]}' is a {type(obj[bad[0]]).__name__}, not a tensor")
    return obj


def load_weights(model, ckpt_path):
    """Loads a torch.save'd state dict (or a dict holding one under 'state_dict' / 'model') into `model`."""
    torch = _torch()
    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise ModelFormatError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - unpickling reports damage as assorted errors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFormatError(f"{path}: not a checkpoint that torch.load can read safely "
                               f"(a state dict of tensors): {first}") from None
    sd = _state_dict_of(obj, path)
    expected = model.state_dict()
    if sd and all(k.startswith("module.") for k in sd) and not any(k.startswith("module.") for k in expected):
        sd = {k[len("module."):]: v for k, v in sd.items()}  # saved from DataParallel
    for key, ref in expected.items():
        if key not in sd:
            raise ModelFormatError(f"{path}: missing key '{key}' (the checkpoint does not match the model)")
        if tuple(sd[key].shape) != tuple(ref.shape):
            raise ModelFormatError(f"{path}: key '{key}' has shape {tuple(sd[key].shape)}, the model expects "
                                   f"{tuple(ref.shape)}")
    for key in sd:
        if key not in expected:
            raise ModelFormatError(f"{path}: unexpected key '{key}' (the checkpoint does not match the model)")
    model.load_state_dict(sd, strict=True)
    return model


def parse_input_shape(text: str) -> tuple[int, ...]:
    """'1,1,28,28' (or '1x1x28x28') -> (1, 1, 28, 28)."""
    s = str(text).strip().strip("()[]")
    parts = [p.strip() for p in re.split(r"[,xX]", s)] if s else []
    if not parts or any(not re.fullmatch(r"\d+", p) for p in parts):
        raise EdgePruneError(f"input shape '{text}': expected positive integers separated by commas, e.g. 1,1,28,28")
    dims = tuple(int(p) for p in parts)
    if any(d <= 0 for d in dims):
        raise EdgePruneError(f"input shape '{text}': every dimension must be positive")
    return dims
