"""A CUDA-shaped device for CI machines without a GPU.

Within `virtual_cuda()`, every tensor sent to `cuda` becomes a `VirtualCuda` tensor: its data
stays on the CPU (so the real pipeline runs and paints real pixels), but it reports
`device == cuda:0` and the accelerator's rules are enforced on every torch call:

- a call that mixes it with a CPU tensor of one or more dimensions fails with CUDA's own
  message ("Expected all tensors to be on the same device …"); 0-d CPU tensors and host
  indices are allowed, as on a GPU;
- `.numpy()` on it fails as on a GPU: data must be copied to the host with `.cpu()` first;
- dtypes are whatever was asked for (fp16, bf16), so a tensor left in the wrong dtype fails
  in the kernel as it would on the GPU.

It works at the level of torch calls (a TorchFunctionMode): each call is checked, run on the
host tensors, and its tensor results wrapped again. Why not FakeTensorMode: fake tensors hold
no data, so the scheduler's data-dependent branches, the face analyser and the conversions to
PIL could not run; here everything runs, end to end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves, tree_map

CUDA = torch.device("cuda", 0)
CPU = torch.device("cpu")


class DeviceMismatch(RuntimeError):
    pass


class VirtualCuda(torch.Tensor):
    """A CPU tensor (`elem`) that behaves, for device rules, like one on cuda:0."""

    elem: torch.Tensor
    __torch_function__ = torch._C._disabled_torch_function_impl

    @staticmethod
    def __new__(cls, elem: torch.Tensor) -> VirtualCuda:
        wrapped = torch.Tensor._make_wrapper_subclass(
            cls,
            elem.shape,
            strides=elem.stride(),
            storage_offset=elem.storage_offset(),
            dtype=elem.dtype,
            device=CUDA,
        )
        wrapped.elem = elem
        return wrapped

    def __repr__(self) -> str:
        return f"VirtualCuda({self.elem!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        # Reached only by calls made from C++ with a VirtualCuda argument.
        return _call(func, args, kwargs or {}, check=True)


def _unwrap(value):
    return value.elem if isinstance(value, VirtualCuda) else value


def _call(func, args: tuple, kwargs: dict, check: bool):
    if check:
        _check_devices(func, (args, kwargs))
    inputs = {id(t.elem): t for t in tree_leaves((args, kwargs)) if isinstance(t, VirtualCuda)}
    out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))

    def wrap(value):
        if not isinstance(value, torch.Tensor) or isinstance(value, VirtualCuda):
            return value
        same = inputs.get(id(value))  # in-place calls return their input
        return same if same is not None else VirtualCuda(value)

    return tree_map(wrap, out)


def _check_devices(func, arguments) -> None:
    tensors = [t for t in tree_leaves(arguments) if isinstance(t, torch.Tensor)]
    on_host = [t for t in tensors if not isinstance(t, VirtualCuda) and t.dim() > 0]
    if on_host and len(on_host) < len(tensors):
        shapes = ", ".join(str(list(t.shape)) for t in on_host)
        name = getattr(func, "__name__", str(func))
        raise DeviceMismatch(
            "Expected all tensors to be on the same device, but found at least two devices, "
            f"cuda:0 and cpu! ({name}: CPU tensors of shape {shapes})"
        )


def _is_cuda(value) -> bool:
    if isinstance(value, torch.device):
        return value.type == "cuda"
    return isinstance(value, str) and value.split(":")[0] == "cuda"


def _is_device(value) -> bool:
    return isinstance(value, torch.device) or (
        isinstance(value, str) and value.split(":")[0] in ("cuda", "cpu", "meta")
    )


def _host(value):
    return CPU if _is_cuda(value) else value


# Calls that move data between devices, or index with host indices: no device check.
_CROSSING = frozenset(
    {
        torch.Tensor.copy_,
        torch.Tensor.__getitem__,
        torch.Tensor.__setitem__,
        torch.Tensor.to,
        torch._has_compatible_shallow_copy_type,
    }
)


class _Rules(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") == "__get__" or func is torch._C._nn._parse_to:
            # attributes (.device, .dtype, .shape, …) and Module.to's argument parser
            return func(*args, **kwargs)
        if func in (torch.Tensor.numpy, torch.Tensor.__array__) and isinstance(
            args[0], VirtualCuda
        ):
            raise TypeError(
                "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy "
                "the tensor to host memory first."
            )
        if func is torch.Tensor.cpu:
            return _unwrap(args[0]).cpu(*args[1:], **kwargs)
        if func is torch.Tensor.cuda:
            func, args = torch.Tensor.to, (args[0], CUDA, *args[1:])
        if func is torch.Tensor.to:
            return _to(args, kwargs)
        if _is_cuda(kwargs.get("device")):  # a factory: torch.zeros(…, device="cuda")
            return tree_map(_wrap_new, func(*args, **{**kwargs, "device": CPU}))
        if not any(isinstance(t, VirtualCuda) for t in tree_leaves((args, kwargs))):
            return func(*args, **kwargs)
        return _call(func, args, kwargs, check=func not in _CROSSING)


def _wrap_new(value):
    return VirtualCuda(value) if isinstance(value, torch.Tensor) else value


def _to(args: tuple, kwargs: dict):
    """`Tensor.to(...)`: to the device named (a device, a string or another tensor's)."""
    source, rest = args[0], args[1:]
    target = None
    for value in (*rest, kwargs.get("device"), kwargs.get("other")):
        if isinstance(value, torch.Tensor):
            target = value.device
        elif _is_device(value):
            target = torch.device(value)
    if target is None:
        target = source.device
    rest = tuple((_unwrap(v).dtype if isinstance(v, torch.Tensor) else _host(v)) for v in rest)
    kwargs = {k: _host(v) for k, v in kwargs.items() if k != "other"}
    moved = torch.Tensor.to(_unwrap(source), *rest, **kwargs)
    if target.type != "cuda":
        return moved
    if isinstance(source, VirtualCuda) and moved is source.elem:
        return source
    return VirtualCuda(moved)


@contextmanager
def virtual_cuda() -> Iterator[torch.device]:
    """Within this block `cuda` is a CPU-backed device that enforces GPU device rules."""
    # Module.to must build new parameters: assigning a VirtualCuda to `param.data` would
    # leave a plain Parameter that claims cuda and has no kernels.
    overwrite = torch.__future__.get_overwrite_module_params_on_conversion()
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        # Autograd asks the device for its stream when it records an operation, which no
        # emulation can answer: the rehearsal, like inference, records none.
        with torch.no_grad(), _Rules():
            yield CUDA
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(overwrite)
