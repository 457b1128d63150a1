"""The typed tuning configuration (``tuning_config.yaml``): search space, search, pruning, workers.

Validated once, when the YAML is loaded, with the same line-numbered, did-you-mean errors as
the training config. No torch and no optuna here, so a typo answers instantly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trainforge.config.metrics import metric_direction


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ParamSpec(_Section):
    """One searched parameter."""

    type: Literal["loguniform", "uniform", "int", "categorical"] = Field(
        description="loguniform, uniform (floats), int (integers, optional step and log) or "
        "categorical (one of choices)."
    )
    low: float | None = Field(None, description="Lowest value (loguniform, uniform, int).")
    high: float | None = Field(None, description="Highest value (loguniform, uniform, int).")
    step: float | None = Field(
        None, gt=0, description="Spacing of values (uniform, int); int defaults to 1."
    )
    log: bool = Field(False, description="int: sample on a log scale.")
    choices: list[Any] | None = Field(None, description="categorical: the values to choose from.")
    grid_points: int | None = Field(
        None, ge=2, description="grid search: how many values of a continuous range to try."
    )
    path: str | None = Field(
        None,
        description="Training-config key the value goes to (dotted, e.g. model.dropout); "
        "default: the parameter's short name (learning_rate, batch_size, ...) or its own "
        "dotted name.",
    )
    when: dict[str, Any] | None = Field(
        None,
        description="Only search this parameter when another has one of these values, e.g. "
        "{optimizer: sgd} or {optimizer: [sgd]}.",
    )

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty choices list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} parameter needs low and high")
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is above high ({self.high:g})")
        if self.type == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs low > 0 (got {self.low:g}); use uniform")
        if self.type == "int":
            if self.low != int(self.low) or self.high != int(self.high):
                raise ValueError("an int parameter needs whole-number low and high")
            if self.log and self.low < 1:
                raise ValueError("an int parameter with log: true needs low >= 1")
        return self


class OptimizationConfig(_Section):
    method: Literal["grid", "random", "bayesian", "tpe", "gp", "cmaes"] = Field(
        "bayesian",
        description="grid (every combination), random, bayesian/tpe (multivariate TPE), "
        "gp (Gaussian process) or cmaes (CMA-ES; needs pip install cmaes).",
    )
    metric: str = Field("val_loss", description="Validation metric the study optimises.")
    direction: Literal["minimize", "maximize"] | None = Field(
        None, description="minimize or maximize (default from the metric's name)."
    )
    objective: Literal["best", "last"] = Field(
        "best", description="A trial's value: the best or the last value of metric in its run."
    )
    n_trials: int = Field(20, ge=1, description="Finished trials the study should reach.")
    timeout_per_trial: float | None = Field(
        None, gt=0, description="Seconds before a trial is stopped (even if it hangs) and failed."
    )
    n_startup_trials: int = Field(
        10, ge=0, description="bayesian/gp/cmaes: random trials before the model-based search."
    )
    seed: int | None = Field(None, description="Seed of the sampler (trials keep their own).")
    validate_best: int = Field(
        0, ge=0, description="Retrain the best configuration with this many other seeds."
    )
    validate_top: int = Field(
        1, ge=1, description="How many of the top trials validate_best retrains."
    )
    select_best: Literal["trial", "validated_mean"] = Field(
        "trial",
        description="Which config becomes best_config.yaml: the best trial, or the best mean "
        "over the validation seeds (with validate_top > 1).",
    )

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"


class PruningConfig(_Section):
    enabled: bool = Field(True, description="Stop unpromising trials early.")
    pruner: Literal["percentile", "median", "successive_halving", "hyperband"] = Field(
        "percentile",
        description="Optuna pruner deciding which trials stop: percentile (keeps the trials in "
        "the top `percentile` % at the same epoch), median (the same at 50 %), "
        "successive_halving or hyperband.",
    )
    percentile: float = Field(
        40.0,
        gt=0.0,
        lt=100.0,
        description="percentile: a trial goes on while its best value so far is within the top "
        "this-many percent of the completed trials' values at the same epoch.",
    )
    patience: int | None = Field(
        None,
        ge=0,
        description="Only prune after this many validations without improvement "
        "(Optuna's PatientPruner around the pruner).",
    )
    min_epochs: int = Field(1, ge=1, description="Epochs every trial runs before it can be pruned.")
    intermediate_metric: str | None = Field(
        None,
        description="Metric reported after each validation (default: optimization.metric); "
        "compared in its own direction.",
    )
    intermediate_mode: Literal["min", "max"] | None = Field(
        None, description="Direction of intermediate_metric (default from its name)."
    )
    reduction_factor: int = Field(
        3, ge=2, description="successive_halving/hyperband: 1/reduction_factor trials go on."
    )


class ParallelConfig(_Section):
    n_jobs: int = Field(1, ge=1, description="Worker processes sharing the study.")
    gpu_per_trial: int = Field(
        1, ge=0, description="GPUs given to each trial (CUDA_VISIBLE_DEVICES); unused on CPU."
    )
    processes_per_trial: int | None = Field(
        None,
        ge=1,
        description="Training processes per trial: each trial is a data-parallel (DDP) run over "
        "them, like trainforge train --distributed (gloo on CPU). Default: gpu_per_trial on a "
        "machine with GPUs (one process per GPU), 1 without.",
    )
    heartbeat_interval: int = Field(
        10, ge=1, description="Seconds between a running trial's heartbeats in the storage."
    )
    grace_period: int | None = Field(
        None,
        ge=1,
        description="Seconds without a heartbeat before a trial is failed and retried "
        "(default 3 x heartbeat_interval).",
    )
    max_retry: int = Field(
        3, ge=0, description="How often a trial whose worker died is retried with its parameters."
    )


class TuneConfig(_Section):
    """A whole hyperparameter search."""

    base_config: str | None = Field(
        None,
        description="Training config the trials start from (relative to this file); default "
        "training_config.yaml beside it.",
    )
    study_name: str | None = Field(None, description="Study name (default: the file's stem).")
    storage: str | None = Field(
        None,
        description="Optuna storage URL (default sqlite:///trainforge_studies.db in the working "
        "folder; postgresql://... for several machines).",
    )
    search_space: dict[str, ParamSpec] = Field(
        default_factory=dict, description="Parameter name -> how to search it."
    )
    optimization: OptimizationConfig = Field(default_factory=OptimizationConfig)
    pruning: PruningConfig = Field(default_factory=PruningConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)

    @model_validator(mode="after")
    def _resolve(self) -> TuneConfig:
        opt = self.optimization
        if opt.direction is None:
            known = metric_direction(opt.metric)
            if known is None:
                raise ValueError(
                    f"optimization: the direction of metric '{opt.metric}' is unknown; "
                    "set optimization.direction to minimize or maximize"
                )
            opt.direction = "maximize" if known == "max" else "minimize"
        prune = self.pruning
        if prune.intermediate_metric is None:
            prune.intermediate_metric = opt.metric
        if prune.intermediate_mode is None:
            known = metric_direction(prune.intermediate_metric)
            if known is None:
                raise ValueError(
                    f"pruning: the direction of metric '{prune.intermediate_metric}' is "
                    "unknown; set pruning.intermediate_mode to min or max"
                )
            prune.intermediate_mode = known
        for name, spec in self.search_space.items():
            for other in spec.when or {}:
                if other not in self.search_space:
                    raise ValueError(
                        f"search_space.{name}.when names '{other}', which is not a searched "
                        f"parameter (searched: {', '.join(self.search_space)})"
                    )
                if other == name:
                    raise ValueError(f"search_space.{name}.when cannot name itself")
        return self


def load_tuning_config(
    path: str | Path, overrides: Iterable[str] | Mapping[str, Any] | None = None
) -> TuneConfig:
    """Read and validate a tuning config file (``--set`` style overrides applied first)."""
    from trainforge.config.loading import apply_overrides, load_yaml, validate

    data, lines = load_yaml(path)
    if overrides:
        apply_overrides(data, overrides)
    return validate(data, TuneConfig, source=str(path), lines=lines)
