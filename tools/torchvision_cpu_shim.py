"""Let a CUDA-only torchvision wheel import on a CPU-only torch.

The registry's torchvision 0.28.0 is a CUDA build: its compiled ``_C`` needs
``libtorch_cuda.so``, fails to load next to the CPU torch wheel, and then
``torchvision._meta_registrations`` / ``_autograd_registrations`` crash while
registering kernels for ops that do not exist. Python-level torchvision (and
therefore timm and the transforms) works without those ops.

Installed by ``tools/bootstrap.sh`` as a ``.pth`` hook into the project's virtual
environment only. It is a no-op wherever ``_C`` loads (any GPU cluster): the
finder defers to the normal import unless ``torchvision.extension`` reports
that the compiled ops are missing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

_GUARDED = {"torchvision._meta_registrations", "torchvision._autograd_registrations"}


class _EmptyModuleLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        module.__doc__ = "skipped: torchvision compiled ops are unavailable (CPU torch)"


class _TorchvisionOpsFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _GUARDED:
            return None
        extension = sys.modules.get("torchvision.extension")
        if extension is None or extension._has_ops():
            return None
        return importlib.machinery.ModuleSpec(fullname, _EmptyModuleLoader())


def install() -> None:
    if not any(isinstance(f, _TorchvisionOpsFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionOpsFinder())
