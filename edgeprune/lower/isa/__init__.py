"""ISA-specific specializers (Armv7E-M DSP, Helium, NEON); importing this package registers them all."""

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
