"""ISA-specific rewrites: a portable kernel call becomes an optimized one where the target has the features.

Portable lowering (edgeprune/lower/ops) fixes the arithmetic; a specializer only changes how it is computed:
a different kernel, weights re-laid-out at build time, extra scratch. It must stay bit-exact with the
portable kernel, and it declines (returns None) for shapes it does not handle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from edgeprune.lower.program import KernelCall

Specializer = Callable[[KernelCall], "KernelCall | list[KernelCall] | None"]
_SPECIALIZERS: dict[str, list[tuple[frozenset[str], int, Specializer]]] = {}


def specializer(func: str, requires: Iterable[str], priority: int = 0) -> Callable[[Specializer], Specializer]:
    """Registers fn for calls to the portable kernel `func` on targets with all `requires` ISA features.

    Among the applicable specializers the highest priority is tried first; the first that accepts wins.
    """

    def deco(fn: Specializer) -> Specializer:
        _SPECIALIZERS.setdefault(func, []).append((frozenset(requires), priority, fn))
        _SPECIALIZERS[func].sort(key=lambda entry: -entry[1])
        return fn

    return deco


def _load() -> None:
    from edgeprune.lower import isa  # noqa: F401  (registers the ISA-specific specializers)


def specialize(calls: list[KernelCall], isa: Iterable[str]) -> list[KernelCall]:
    _load()
    features = frozenset(isa)
    out: list[KernelCall] = []
    for call in calls:
        replaced = None
        for requires, _, fn in _SPECIALIZERS.get(call.func, ()):
            if requires <= features:
                replaced = fn(call)
                if replaced is not None:
                    break
        if replaced is None:
            out.append(call)
        else:
            out.extend(replaced if isinstance(replaced, list) else [replaced])
    return out
