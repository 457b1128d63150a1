"""The search space: parameter names → training-config keys, Optuna suggestions, grid points.

Everything here is a pure function of the tuning config (and an Optuna trial for ``suggest``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Protocol

from trainforge.config import TrainConfig, validate
from trainforge.config.tuning import ParamSpec, TuneConfig
from trainforge.errors import ConfigError

# The short names a search space may use, as in SPEC's tuning_config.yaml.
SHORT_NAMES = {
    "learning_rate": "training.learning_rate",
    "lr": "training.learning_rate",
    "batch_size": "data.batch_size",
    "weight_decay": "training.weight_decay",
    "optimizer": "training.optimizer",
    "momentum": "training.momentum",
    "nesterov": "training.nesterov",
    "epochs": "training.epochs",
    "gradient_clip": "training.gradient_clip",
    "label_smoothing": "training.label_smoothing",
    "gradient_accumulation_steps": "training.gradient_accumulation_steps",
    "lr_scheduler": "lr_scheduler.type",
    "warmup_epochs": "lr_scheduler.warmup_epochs",
    "min_lr": "lr_scheduler.min_lr",
    "dropout": "model.dropout",
    "architecture": "model.architecture",
    "hidden_sizes": "model.hidden_sizes",
    "activation": "model.activation",
    "channels": "model.channels",
}


def config_key(name: str, spec: ParamSpec) -> str:
    """Where a parameter's value goes in the training config."""
    if spec.path:
        return spec.path
    if name in SHORT_NAMES:
        return SHORT_NAMES[name]
    if "." in name:
        return name
    raise ConfigError(
        f"search_space.{name}: not a known short name; give its training-config key as "
        f"path: (e.g. path: model.{name}) or name it by its dotted key (known short names: "
        f"{', '.join(sorted(SHORT_NAMES))})"
    )


def check_space(tuning: TuneConfig, base: TrainConfig) -> None:
    """Fail before any trial runs: every parameter maps onto a key the training config has,
    and a grid search has a finite grid."""
    if not tuning.search_space:
        raise ConfigError("the tuning config has no search_space; add at least one parameter")
    base_dict = base.model_dump(mode="json")
    for name, spec in tuning.search_space.items():
        key = config_key(name, spec)
        if not _key_exists(base_dict, key.split(".")):
            raise ConfigError(
                f"search_space.{name}: training-config key '{key}' does not exist; check the "
                "name or its path:"
            )
        if tuning.optimization.method == "grid":
            grid_values(name, spec)


def _key_exists(data: Any, parts: list[str]) -> bool:
    for i, part in enumerate(parts):
        if not isinstance(data, dict):
            return False
        if part not in data:
            # free-form mappings (model.kwargs) accept new keys
            return i > 0 and parts[i - 1] == "kwargs"
        data = data[part]
    return True


def active(spec: ParamSpec, chosen: dict[str, Any]) -> bool:
    """Whether a conditional parameter is searched, given the values chosen so far."""
    for other, wanted in (spec.when or {}).items():
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if other not in chosen or chosen[other] not in allowed:
            return False
    return True


def ordered(tuning: TuneConfig) -> list[str]:
    """Parameters in an order where every ``when`` condition is decided first."""
    names = list(tuning.search_space)
    done: list[str] = []
    while names:
        progressed = False
        for name in list(names):
            deps = tuning.search_space[name].when or {}
            if all(d in done for d in deps):
                done.append(name)
                names.remove(name)
                progressed = True
        if not progressed:
            raise ConfigError(f"search_space: the when: conditions of {', '.join(names)} loop")
    return done


class Suggester(Protocol):
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = ..., log: bool = ...
    ) -> float: ...
    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = ..., log: bool = ...
    ) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def suggest(trial: Suggester, tuning: TuneConfig) -> dict[str, Any]:
    """Ask the trial for every active parameter: {name: value}."""
    chosen: dict[str, Any] = {}
    for name in ordered(tuning):
        spec = tuning.search_space[name]
        if active(spec, chosen):
            chosen[name] = _suggest_one(trial, name, spec)
    return chosen


def _suggest_one(trial: Suggester, name: str, spec: ParamSpec) -> Any:
    assert spec.low is not None or spec.type == "categorical"
    if spec.type == "categorical":
        return trial.suggest_categorical(name, _hashable(spec.choices or []))
    low, high = float(spec.low or 0), float(spec.high or 0)
    if spec.type == "int":
        return trial.suggest_int(name, int(low), int(high), step=int(spec.step or 1), log=spec.log)
    if spec.type == "loguniform":
        return trial.suggest_float(name, low, high, log=True)
    return trial.suggest_float(name, low, high, step=spec.step)


def _hashable(choices: list[Any]) -> list[Any]:
    # Optuna's choices must be None/bool/int/float/str: lists (hidden_sizes) travel as YAML text.
    import yaml

    return [
        c if c is None or isinstance(c, bool | int | float | str) else yaml.safe_dump(c).strip()
        for c in choices
    ]


def decode(value: Any) -> Any:
    """A categorical choice back from its Optuna form (lists were stored as flow YAML)."""
    if isinstance(value, str) and value[:1] in "[{-":
        import yaml

        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def overrides(params: dict[str, Any], tuning: TuneConfig) -> dict[str, Any]:
    """{training-config key: value} for a trial's parameters."""
    return {
        config_key(name, tuning.search_space[name]): decode(value)
        for name, value in params.items()
        if name in tuning.search_space
    }


def trial_config(base: TrainConfig, params: dict[str, Any], tuning: TuneConfig) -> TrainConfig:
    """The base config with a trial's values; a value the config rejects raises ConfigError."""
    from trainforge.config import apply_overrides

    data = base.model_dump(mode="json", exclude_none=False)
    apply_overrides(data, overrides(params, tuning))
    return validate(data, TrainConfig, source="")


def grid_values(name: str, spec: ParamSpec) -> list[Any]:
    """The values grid search tries for one parameter."""
    if spec.type == "categorical":
        return _hashable(spec.choices or [])
    low, high = float(spec.low or 0), float(spec.high or 0)
    if spec.type == "int" and spec.grid_points is None:
        step = int(spec.step or 1)
        values = list(range(int(low), int(high) + 1, step))
        if len(values) <= 1000:
            return values
    if spec.type != "int" and spec.step is not None and spec.grid_points is None:
        n = math.floor((high - low) / spec.step + 1e-9) + 1
        return [round(low + i * spec.step, 12) for i in range(n)]
    if spec.grid_points is None:
        raise ConfigError(
            f"search_space.{name}: grid search needs discrete values; give it grid_points: N "
            "(or step:, or make it categorical)"
        )
    return _spaced(low, high, spec.grid_points, spec.type == "loguniform" or spec.log, spec.type)


def _spaced(low: float, high: float, n: int, log: bool, kind: str) -> list[Any]:
    if log:
        a, b = math.log(low), math.log(high)
        values = [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]
    else:
        values = [low + (high - low) * i / (n - 1) for i in range(n)]
    if kind == "int":
        return sorted({round(v) for v in values})
    return [float(f"{v:.6g}") for v in values]


def grid_points(tuning: TuneConfig) -> list[dict[str, Any]]:
    """Every combination grid search runs; a conditional parameter only where it applies."""
    names = ordered(tuning)
    axes = [grid_values(n, tuning.search_space[n]) for n in names]
    points: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for combo in itertools.product(*axes):
        point: dict[str, Any] = {}
        for name, value in zip(names, combo, strict=True):
            if active(tuning.search_space[name], point):
                point[name] = value
        key = tuple(sorted((k, repr(v)) for k, v in point.items()))
        if key not in seen:
            seen.add(key)
            points.append(point)
    return points


def grid_space(tuning: TuneConfig) -> dict[str, list[Any]]:
    """Optuna GridSampler's search space (every value of every parameter)."""
    return {n: grid_values(n, s) for n, s in tuning.search_space.items()}
