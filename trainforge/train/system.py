"""Facts about the machine and code a run records in metadata.json.

Everything here is best effort: a missing tool (git, NVML, a GPU) yields None or an empty
list, never an error, because a run must not fail for want of provenance.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

_GIT_TIMEOUT_S = 5.0

# Packages whose versions explain a run's behaviour; those not installed are left out.
_TRACKED_PACKAGES = (
    "trainforge",
    "torch",
    "torchvision",
    "numpy",
    "optuna",
    "pydantic",
    "pyyaml",
    "scikit-learn",
    "pandas",
    "pillow",
    "safetensors",
    "tensorboard",
    "wandb",
    "mlflow",
    "onnx",
    "onnxruntime",
    "nvidia-ml-py",
)


def _cpu_model() -> str | None:
    # platform.processor() is often just "x86_64" on Linux; /proc/cpuinfo has the real name.
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _usable_cpus() -> int | None:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _nvidia_driver() -> str | None:
    try:
        import pynvml  # nvidia-ml-py, the optional [gpu] extra
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound on machines without an NVIDIA driver
        return None
    try:
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _gpus() -> list[dict[str, Any]]:
    import torch

    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        gpus.append(
            {
                "index": index,
                "name": props.name,
                "memory_gb": round(props.total_memory / 1024**3, 1),
                "capability": f"{props.major}.{props.minor}",
            }
        )
    return gpus


def system_info() -> dict[str, Any]:
    """Host, OS, Python, CPU, RAM, torch threads and GPUs, as plain JSON-ready values."""
    import torch

    gpus = _gpus()
    mps = getattr(torch.backends, "mps", None)
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": _usable_cpus(),
        "ram_total_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda_available": bool(gpus),
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version() if gpus else None,
        "gpus": gpus,
        "nvidia_driver": _nvidia_driver(),
        "mps_available": bool(mps is not None and mps.is_available()),
    }


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, no such folder, timeout
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(path: str | os.PathLike[str] | None = None) -> str | None:
    """HEAD of the git repository holding ``path`` (default: the working directory)."""
    return _git(["rev-parse", "HEAD"], Path(path or os.getcwd()))


def git_dirty(path: str | os.PathLike[str] | None = None) -> bool | None:
    """Whether tracked files differ from HEAD; None outside a repository."""
    status = _git(["status", "--porcelain", "--untracked-files=no"], Path(path or os.getcwd()))
    return None if status is None else bool(status)


def git_info(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` for metadata.json."""
    commit = git_commit(path)
    return {"commit": commit, "dirty": git_dirty(path) if commit else None}


@functools.lru_cache(maxsize=1)
def installed_distributions() -> tuple[tuple[str, str], ...]:
    """(name, version) of every installed distribution, sorted by name, first on sys.path wins.

    Read from the ``*.dist-info`` folder names rather than each METADATA file: parsing ~200
    METADATA files costs ~0.3 s per run, which a tuning study pays once per trial.
    """
    seen: dict[str, tuple[str, str]] = {}
    for entry in sys.path:
        folder = Path(entry or ".")
        if not folder.is_dir():
            continue
        for info in folder.glob("*.dist-info"):
            name, sep, version = info.name[: -len(".dist-info")].partition("-")
            if sep and name.lower().replace("_", "-") not in seen:
                seen[name.lower().replace("_", "-")] = (name.replace("_", "-"), version)
    return tuple(seen[key] for key in sorted(seen))


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a run (trainforge, torch, numpy, optuna, ...)."""
    installed = {name.lower(): version for name, version in installed_distributions()}
    return {name: installed[name] for name in _TRACKED_PACKAGES if name in installed}


def command_line() -> list[str]:
    """The process's full command line, interpreter and ``-m`` included, to rerun it."""
    return list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
