"""Optuna's parts, chosen from the tuning config: storage, sampler, pruner, and the counting of
trials that lets several workers share one study."""

from __future__ import annotations

from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from trainforge.config.tuning import TuneConfig
from trainforge.errors import ConfigError, UsageError
from trainforge.tune import space

# SQLite, not Optuna's journal file: `optuna.load_study(storage="sqlite:///...")` (and
# optuna-dashboard) open a URL string, the file is one ordinary database that several
# processes share through SQLite's own locking, and RDBStorage has heartbeats, so a trial
# whose worker died is failed and retried (the journal backend needs a storage object built in
# code to be opened).
DEFAULT_STORAGE = "sqlite:///trainforge_studies.db"


def make_storage(url: str, tuning: TuneConfig | None = None) -> optuna.storages.BaseStorage:
    """An RDB storage with heartbeats (stale trials are failed and retried with their params)."""
    par = tuning.parallel if tuning is not None else None
    kwargs: dict[str, Any] = {}
    if par is not None:
        kwargs = {
            "heartbeat_interval": par.heartbeat_interval,
            "grace_period": par.grace_period or 3 * par.heartbeat_interval,
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=par.max_retry
            ),
        }
    engine: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # several worker processes write one file: wait for the lock instead of failing at once
        engine = {"connect_args": {"timeout": 60}}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine, **kwargs)
    except ImportError as exc:
        raise UsageError(
            f"storage {url}: a database driver is missing ({exc}); for PostgreSQL run "
            "pip install 'trainforge[postgres]'"
        ) from None
    except Exception as exc:  # sqlalchemy's errors name the URL problem
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot open storage {url}: {first}") from None


def make_sampler(tuning: TuneConfig, worker: int = 0) -> optuna.samplers.BaseSampler:
    opt = tuning.optimization
    seed = None if opt.seed is None else opt.seed + worker
    method = opt.method
    if method == "grid":
        return optuna.samplers.GridSampler(space.grid_space(tuning), seed=seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method in ("bayesian", "tpe"):
        # constant_liar: parallel workers see each other's running trials as bad guesses, so
        # they do not all sample the same point
        return optuna.samplers.TPESampler(
            n_startup_trials=opt.n_startup_trials,
            multivariate=True,
            group=any(s.when for s in tuning.search_space.values()),
            constant_liar=True,
            seed=seed,
        )
    if method == "gp":
        return optuna.samplers.GPSampler(
            n_startup_trials=opt.n_startup_trials, seed=seed, warn_independent_sampling=False
        )
    try:
        import cmaes  # noqa: F401
    except ImportError:
        raise ConfigError(
            "optimization.method cmaes needs the cmaes package: pip install cmaes "
            "(or pip install 'trainforge[tune]')"
        ) from None
    return optuna.samplers.CmaEsSampler(
        n_startup_trials=opt.n_startup_trials, seed=seed, warn_independent_sampling=False
    )


def make_pruner(tuning: TuneConfig, max_epochs: int) -> optuna.pruners.BasePruner:
    prune = tuning.pruning
    if not prune.enabled:
        return optuna.pruners.NopPruner()
    pruner: optuna.pruners.BasePruner
    if prune.pruner == "successive_halving":
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=prune.min_epochs, reduction_factor=prune.reduction_factor
        )
    elif prune.pruner == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=prune.min_epochs,
            max_resource=max(max_epochs, prune.min_epochs),
            reduction_factor=prune.reduction_factor,
        )
    else:
        # median is the 50th percentile; two finished trials give the first comparison
        pruner = optuna.pruners.PercentilePruner(
            50.0 if prune.pruner == "median" else prune.percentile,
            n_startup_trials=2,
            n_warmup_steps=max(prune.min_epochs - 1, 0),
        )
    if prune.patience is not None:
        pruner = optuna.pruners.PatientPruner(pruner, patience=prune.patience)
    return pruner


def direction(tuning: TuneConfig) -> Literal["minimize", "maximize"]:
    return "maximize" if tuning.optimization.maximize else "minimize"


def replaced(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of failed trials that a retry replaced (their retry counts instead)."""
    out: set[int] = set()
    for t in trials:
        out.update(int(n) for n in t.system_attrs.get("retry_history", []))
    return out


def counted(trials: list[FrozenTrial]) -> tuple[int, int]:
    """(trials that count toward n_trials, trials queued for a worker).

    Finished, running and queued trials count, except a failed one that a retry replaced.
    """
    gone = replaced(trials)
    live = [t for t in trials if not (t.state == TrialState.FAIL and t.number in gone)]
    return len(live), sum(t.state == TrialState.WAITING for t in live)


def finished(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Finished trials, without the failed ones that a retry replaced."""
    gone = replaced(trials)
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return [t for t in trials if t.state in done and t.number not in gone]
