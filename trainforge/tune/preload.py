"""What the trial forkserver imports once, so that no trial imports it again.

Every trial is a fresh process forked from one forkserver; whatever the forkserver imported is
already in the trial, and whatever it did not, each trial imports anew. A run imports its heavy
libraries lazily, only when its config uses them (scikit-learn for the bundled data, the
TensorBoard writer, a torchvision model, ...): imported in every trial, they were seconds of
each trial's start-up. The study's base config says which of them its trials will use; a trial
whose sampled values need something else imports it itself.
"""

from __future__ import annotations

from trainforge.config import TrainConfig

# Arms the parent-death signal, then imports torch, the data layer and fit (child.py).
FORKSERVER_MAIN = "trainforge.tune._forkserver"


def preload_modules(base: TrainConfig) -> list[str]:
    """Modules the forkserver imports before forking trials of ``base``, in order."""
    modules = [FORKSERVER_MAIN]
    paths = [base.data.train_path, base.data.val_path, base.data.test_path]
    if any(p and p.startswith("builtin:") for p in paths):
        modules.append("sklearn.datasets")
    if base.logging.tensorboard:
        modules.append("torch.utils.tensorboard")
    arch = base.model.architecture
    if arch not in ("mlp", "simple_cnn") and ":" not in arch:
        modules.append("torchvision")  # a torchvision model by name
    # Not the optional trackers (wandb, mlflow): multiprocessing skips a preload that raises
    # ImportError, but any other error at import would take the forkserver, and every trial,
    # down with it; a run that uses them imports them itself.
    return modules
