"""Chooses the build of the C++ core this CPU runs fastest.

The wheel carries the core compiled for baseline x86-64 (``_gmm``) and, on x86-64, for AVX2+FMA
(``_gmm_avx2``) and AVX-512 (``_gmm_avx512``). The best one the CPU and OS support is imported;
the environment variable ``GAUSSMIX_ISA`` (``baseline``, ``avx2``, ``avx512``) forces a choice.
"""

import importlib
import os

from . import _gmm as _baseline

_PREFERENCE = ("avx512", "avx2")


def _load():
    supported = set(_baseline.build_info()["cpu_supports"])
    forced = os.environ.get("GAUSSMIX_ISA", "").strip().lower()
    if forced:
        if forced == "baseline":
            return _baseline, "baseline"
        if forced not in _PREFERENCE:
            raise ImportError(f"GAUSSMIX_ISA={forced!r}: expected one of baseline, avx2, avx512")
        if forced not in supported:
            raise ImportError(f"GAUSSMIX_ISA={forced!r}, but this CPU supports only {sorted(supported)}")
        return importlib.import_module(f"gaussmix._gmm_{forced}"), forced
    for isa in _PREFERENCE:
        if isa in supported:
            try:
                return importlib.import_module(f"gaussmix._gmm_{isa}"), isa
            except ImportError:  # built without this variant (non-x86, or a native build)
                continue
    return _baseline, "native" if _baseline.build_info().get("native") else "baseline"


core, instruction_set = _load()
