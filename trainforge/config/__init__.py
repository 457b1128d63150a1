"""Typed configuration: schema, YAML loading, overrides, metric directions (no torch here)."""

from trainforge.config.loading import apply_overrides, dump_config, load_config, load_yaml, validate
from trainforge.config.metrics import Mode, is_better, metric_direction
from trainforge.config.schema import (
    AugmentationConfig,
    CheckpointingConfig,
    DataConfig,
    EarlyStoppingConfig,
    LoggingConfig,
    ModelConfig,
    ReproducibilityConfig,
    SchedulerConfig,
    TrainConfig,
    TrainingConfig,
    precision_mode,
)

__all__ = [
    "AugmentationConfig",
    "CheckpointingConfig",
    "DataConfig",
    "EarlyStoppingConfig",
    "LoggingConfig",
    "Mode",
    "ModelConfig",
    "ReproducibilityConfig",
    "SchedulerConfig",
    "TrainConfig",
    "TrainingConfig",
    "apply_overrides",
    "dump_config",
    "is_better",
    "load_config",
    "load_yaml",
    "metric_direction",
    "precision_mode",
    "validate",
]
