"""Seeds, determinism switches and the RNG state that travels in a checkpoint.

A resumed run should draw the same random numbers as one that never stopped, so every
generator a training step can touch (python ``random``, numpy's global generator, torch on CPU
and on each GPU) is captured into the checkpoint and restored on resume. The captured form
holds only plain python values and tensors so it loads with ``torch.load(weights_only=True)``.

Seeds for sub-streams (an epoch's data order, one sample's augmentation) come from
``trainforge.data.seeding.derive_seed``.
"""

from __future__ import annotations

import operator
import os
import random
from typing import Any, Literal

import numpy as np
import torch

from trainforge.errors import CheckpointError

__all__ = [
    "RNGState",
    "capture_rng_state",
    "configure_determinism",
    "restore_rng_state",
    "seed_everything",
]

_MAX_SEED = 2**64  # torch.manual_seed accepts [0, 2**64); negative seeds are rejected here


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global generator and torch (CPU and every GPU).

    ``PYTHONHASHSEED`` is not set: it only takes effect when set before python starts.
    """
    seed = operator.index(seed)
    if not 0 <= seed < _MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    random.seed(seed)
    # numpy's legacy seeding takes at most 32 bits; larger seeds are passed as two words so
    # that seeds differing only in the high bits still give different streams, while small
    # seeds keep the familiar np.random.seed(seed) stream.
    if seed < 2**32:
        np.random.seed(seed)
    else:
        np.random.seed([seed & 0xFFFFFFFF, seed >> 32])
    # manual_seed also seeds every CUDA device (lazily, if CUDA is not initialised yet).
    torch.manual_seed(seed)


def configure_determinism(deterministic: bool | Literal["strict"], benchmark: bool) -> list[str]:
    """Switch torch's deterministic mode; returns notices worth showing the user.

    ``True`` makes ops that have no deterministic implementation warn, ``"strict"`` makes
    them raise, ``False`` turns the mode off. Call this before the first CUDA operation:
    cuBLAS reads ``CUBLAS_WORKSPACE_CONFIG`` when its handle is created, so setting it later
    has no effect on an already initialised process.
    """
    if deterministic not in (True, False, "strict"):
        raise ValueError(f'deterministic must be True, False or "strict", got {deterministic!r}')
    notices: list[str] = []
    if deterministic is False:
        # torch.use_deterministic_algorithms imports torch._inductor (over a second of
        # start-up): call it only to switch the mode off after something switched it on.
        if torch.are_deterministic_algorithms_enabled():
            torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.benchmark = benchmark
        return notices

    strict = deterministic == "strict"
    if "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
        notices.append("set CUBLAS_WORKSPACE_CONFIG=:4096:8 for deterministic cuBLAS")
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            notices.append(
                "CUDA was initialised before determinism was configured, so "
                "CUBLAS_WORKSPACE_CONFIG may not apply; matrix products can still vary"
            )
    torch.use_deterministic_algorithms(True, warn_only=not strict)
    torch.backends.cudnn.deterministic = True
    if benchmark:
        # cuDNN's benchmark mode times candidate kernels and keeps the fastest, which can
        # differ from run to run: it defeats determinism, so determinism wins.
        notices.append("cudnn benchmark disabled because deterministic mode is on")
    torch.backends.cudnn.benchmark = False
    notices.append(
        "deterministic algorithms on: ops without a deterministic version "
        + ("raise an error" if strict else "warn instead of failing")
    )
    return notices


def capture_rng_state() -> dict[str, Any]:
    """The state of every random generator, as plain values and tensors (weights-only safe)."""
    py_version, py_internal, py_gauss = random.getstate()
    np_state = np.random.get_state(legacy=True)
    assert isinstance(np_state, tuple)  # legacy=True always returns the tuple form
    bit_generator, keys, pos, has_gauss, cached_gaussian = np_state
    state: dict[str, Any] = {
        "python": {"version": py_version, "state": list(py_internal), "gauss": py_gauss},
        "numpy": {
            "bit_generator": str(bit_generator),
            # uint32 does not fit a signed 32-bit tensor; int64 holds it exactly.
            "key": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    # Only when CUDA is already in use: querying the state would otherwise initialise CUDA
    # (slow, and it grabs memory on every visible GPU) just to save untouched generators.
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put every generator back to ``state`` as returned by ``capture_rng_state``.

    CUDA states are restored for the devices both the checkpoint and this machine have; they
    are skipped when this machine has no CUDA (a GPU run resumed on CPU).
    """
    try:
        python = state["python"]
        random.setstate(
            (int(python["version"]), tuple(int(x) for x in python["state"]), python["gauss"])
        )
        numpy_state = state["numpy"]
        keys = torch.as_tensor(numpy_state["key"]).cpu().numpy().astype(np.uint32)
        np.random.set_state(
            (
                str(numpy_state.get("bit_generator", "MT19937")),
                keys,
                int(numpy_state["pos"]),
                int(numpy_state["has_gauss"]),
                float(numpy_state["cached_gaussian"]),
            )
        )
        # set_rng_state needs a CPU ByteTensor, whatever map_location the checkpoint used.
        torch.set_rng_state(torch.as_tensor(state["torch"]).cpu().to(torch.uint8))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"the checkpoint's random-generator state is malformed ({type(exc).__name__}: {exc})"
        ) from None
    cuda_states = state.get("cuda")
    if cuda_states and torch.cuda.is_available():
        for index in range(min(len(cuda_states), torch.cuda.device_count())):
            torch.cuda.set_rng_state(cuda_states[index].cpu(), index)


class RNGState:
    """Every random generator as one checkpoint part (``"rng"``); restore it last, so that
    nothing restored after it draws random numbers."""

    def state_dict(self) -> dict[str, Any]:
        return capture_rng_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        restore_rng_state(state)
