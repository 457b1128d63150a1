"""The typed training configuration: every key, its default and what it means.

Validated once, when the YAML is loaded; the rest of trainforge receives these objects.
This module must not import torch, so that config errors are reported instantly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from trainforge.config.metrics import Mode, metric_direction
from trainforge.config.monitoring import MonitoringConfig
from trainforge.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1 for an int field; "epochs: true" is a mistake, not 1 epoch.
        if info.field_name is None:
            return value
        items = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(item, bool) for item in items):
            annotation = cls.model_fields[info.field_name].annotation
            if not _accepts_bool(annotation):
                raise ValueError("expected a number, not true/false")
        return value


def _accepts_bool(annotation: Any) -> bool:
    """Whether a field's type lets true/false through as such (bool, or Any)."""
    if annotation is bool or annotation is Any:
        return True
    return any(_accepts_bool(arg) for arg in get_args(annotation))


class ModelConfig(Section):
    architecture: str = Field(
        "simple_cnn",
        description=(
            "simple_cnn, mlp, any torchvision classification model by name (resnet18, "
            "mobilenet_v3_small, ...), or a user's class as 'package.module:Class'."
        ),
    )
    pretrained: bool | str = Field(
        False,
        description=(
            "true loads torchvision's default weights (needs the network); a path to a state "
            "dict or trainforge checkpoint, or 'registry:NAME@VERSION', loads those weights "
            "(a mismatched head is skipped) and records that model as the run's parent."
        ),
    )
    num_classes: int | None = Field(
        None, ge=1, description="Number of output classes; inferred from the data when absent."
    )
    hidden_sizes: list[int] = Field(
        default_factory=lambda: [128, 64], description="mlp: widths of the hidden layers."
    )
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout probability (mlp, simple_cnn)."
    )
    activation: Literal["relu", "gelu", "tanh", "silu", "leaky_relu"] = Field(
        "relu", description="mlp: activation between hidden layers."
    )
    channels: list[int] = Field(
        default_factory=lambda: [32, 64], description="simple_cnn: channels of each conv block."
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra keyword arguments for a torchvision model or a user's model class.",
    )


class AugmentationConfig(Section):
    random_flip: bool = Field(False, description="Random horizontal flip (image data).")
    random_crop: bool = Field(
        False, description="Random crop after padding by 1/8 of the image size (image data)."
    )
    normalize: Literal["imagenet", "dataset", "none"] = Field(
        "dataset",
        description=(
            "imagenet: ImageNet mean/std; dataset: per-channel statistics of the training split; "
            "none: pixels scaled to [0, 1] only."
        ),
    )
    resize: int | list[int] | None = Field(
        None, description="Resize images to this size (int for square, or [height, width])."
    )

    @field_validator("resize")
    @classmethod
    def _resize_shape(cls, v: int | list[int] | None) -> int | list[int] | None:
        if isinstance(v, list) and (len(v) != 2 or min(v) < 1):
            raise ValueError("resize must be one positive int or [height, width]")
        if isinstance(v, int) and v < 1:
            raise ValueError("resize must be positive")
        return v


class DataConfig(Section):
    train_path: str | None = Field(
        None,
        description=(
            "Training data: an image folder (<root>/<class>/*.png), a CSV file, or "
            "builtin:digits|iris|wine|breast_cancer|diabetes."
        ),
    )
    val_path: str | None = Field(
        None, description="Validation data; without it, val_split of the training data is used."
    )
    test_path: str | None = Field(None, description="Optional test data for evaluate/register.")
    source: str | None = Field(
        None,
        description=(
            "'package.module:function' returning (train, val) or (train, val, test) datasets; "
            "replaces train_path."
        ),
    )
    batch_size: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        64,
        description="Samples per forward pass; auto: the largest that fits (CUDA) or the fastest "
        "(CPU), found by trial steps before training and written into the run's config.yaml.",
    )
    eval_batch_size: int | None = Field(
        None,
        ge=1,
        description="Samples per forward pass when validating and testing (no gradients are "
        "kept, so it can be larger); null: data.batch_size.",
    )
    num_workers: int = Field(0, ge=0, description="Data-loading worker processes (image data).")
    pin_memory: bool = Field(False, description="Pin host memory for faster CPU→GPU copies.")
    persistent_workers: bool = Field(False, description="Keep loader workers alive between epochs.")
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
    val_split: float = Field(
        0.1, gt=0.0, lt=1.0, description="Fraction of the training data held out when no val_path."
    )
    split_seed: int = Field(
        0, description="Seed of the train/val split, independent of the training seed."
    )
    target_column: str | None = Field(
        None, description="CSV column holding the target (default: label, else target, else last)."
    )
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: regression for float targets asked as such, else classification."
    )
    image_size: int | list[int] | None = Field(
        None, description="Pixel CSVs: image height/width (default sqrt of the pixel count)."
    )
    shuffle: bool = Field(True, description="Shuffle the training data each epoch.")
    drop_last: bool = Field(False, description="Drop the last incomplete training batch.")

    @property
    def batch(self) -> int:
        """The batch size in samples (``auto`` is resolved before the data is built)."""
        if self.batch_size == "auto":
            raise ValueError("data.batch_size: auto has not been resolved yet")
        return self.batch_size

    @property
    def eval_batch(self) -> int:
        """The validation and test batch size in samples."""
        return self.eval_batch_size or self.batch


class TrainingConfig(Section):
    epochs: int = Field(10, ge=1, description="Total number of epochs (also on resume).")
    optimizer: Literal["adam", "adamw", "sgd"] = Field("adamw", description="Optimizer.")
    learning_rate: float = Field(1e-3, gt=0.0, description="Peak learning rate.")
    weight_decay: float = Field(0.0, ge=0.0, description="Weight decay.")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="sgd: momentum.")
    nesterov: bool = Field(False, description="sgd: Nesterov momentum.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="adam/adamw: betas.")
    gradient_clip: float | None = Field(
        None, gt=0.0, description="Clip the total gradient norm to this value (off when null)."
    )
    mixed_precision: bool | Literal["fp16", "bf16", "no"] = Field(
        False,
        description=(
            "true: fp16 with a grad scaler on CUDA, bf16 on CPU; fp16; bf16; false/no: fp32."
        ),
    )
    gradient_accumulation_steps: int = Field(
        1, ge=1, description="Batches whose gradients are summed into one optimizer step."
    )
    batch_size: int | None = Field(
        None, ge=1, description="Alias of data.batch_size (SPEC's Performance Tips)."
    )
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="Cross-entropy smoothing.")
    class_weights: Literal["auto"] | list[float] | None = Field(
        None, description="Loss weight per class; auto: inverse class frequency."
    )
    val_every_n_steps: int | None = Field(
        None, ge=1, description="Validate every N optimizer steps (besides epoch-level validation)."
    )
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    max_steps: int | None = Field(
        None, ge=1, description="Stop after this many optimizer steps in total."
    )
    nan_policy: Literal["stop", "skip", "rollback"] = Field(
        "stop", description="What to do on a non-finite loss or gradient."
    )
    max_consecutive_skips: int = Field(
        10, ge=1, description="nan_policy skip: stop after this many skipped steps in a row."
    )
    rollback_lr_factor: float = Field(
        0.5, gt=0.0, le=1.0, description="nan_policy rollback: multiply the LR by this."
    )
    compile: bool = Field(False, description="torch.compile the model.")
    channels_last: bool | Literal["auto"] = Field(
        "auto",
        description="Keep image batches and the model in channels_last (NHWC) memory format; "
        "auto: on for image models on CUDA.",
    )
    oom_policy: Literal["fail", "shrink"] = Field(
        "fail",
        description="On an out-of-memory error mid-run: fail with one line, or shrink: halve the "
        "micro-batch, double gradient accumulation (same samples per optimizer step) and redo "
        "the step.",
    )
    sync_batchnorm: bool = Field(
        False,
        description="--distributed on GPUs: BatchNorm layers use statistics over every rank's "
        "batch (SyncBatchNorm) instead of their own; no effect in one process.",
    )
    distributed_timeout_s: float = Field(
        300.0,
        ge=1.0,
        description="--distributed: seconds a rank waits for its peers in one collective "
        "(gradient all-reduce, barrier), and at the start for every rank to join, before the run "
        "fails (torch's own default is 30 min).",
    )
    heartbeat_timeout_s: float | None = Field(
        30.0,
        gt=0.0,
        description="--distributed: a rank whose heartbeat (sent about every second through the "
        "rendezvous store) stops this long is declared vanished; the run stops, rank 0 saves "
        "last.pth when it can, exit code 5. null turns the heartbeat off.",
    )
    profile: bool = Field(
        False,
        description=(
            "Record a few optimizer steps after a warm-up with torch.profiler into "
            "logs/profile/ and print the top operators and the data-wait share."
        ),
    )

    @field_validator("mixed_precision")
    @classmethod
    def _normalise_precision(cls, v: bool | str) -> bool | str:
        return False if v == "no" else v


class SchedulerConfig(Section):
    type: Literal["none", "step", "cosine", "plateau"] = Field("none", description="LR schedule.")
    warmup_epochs: float = Field(
        0.0, ge=0.0, description="Linear warm-up length in epochs (fractions allowed)."
    )
    min_lr: float = Field(0.0, ge=0.0, description="cosine: final LR; plateau: lowest LR.")
    step_size: int = Field(30, ge=1, description="step: epochs between decays.")
    gamma: float = Field(0.1, gt=0.0, le=1.0, description="step: decay factor.")
    factor: float = Field(0.1, gt=0.0, lt=1.0, description="plateau: decay factor.")
    patience: int = Field(10, ge=0, description="plateau: validations without improvement.")
    monitor: str | None = Field(
        None, description="plateau: metric to watch (default the early-stopping metric)."
    )
    mode: Mode | None = Field(None, description="plateau: min or max (default from the metric).")


class EarlyStoppingConfig(Section):
    enabled: bool = Field(False, description="Stop when the metric stops improving.")
    patience: int = Field(10, ge=1, description="Validations without improvement before stopping.")
    metric: str = Field("val_loss", description="Metric to watch.")
    mode: Mode | None = Field(None, description="min or max (default from the metric's name).")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as improvement.")


def inside_run_folder(value: str) -> str | None:
    """Why ``value`` cannot be a folder inside the run folder, or None when it can."""
    parts = value.replace("\\", "/").split("/")
    if not value.strip() or value.strip() in (".", "./"):
        return "must name a subfolder of the run folder, e.g. checkpoints"
    if value.startswith(("/", "~")) or (len(value) > 1 and value[1] == ":"):
        return "must be relative to the run folder, not an absolute path"
    if ".." in parts:
        return "must stay inside the run folder ('..' is not allowed)"
    return None


def _relative_folder(value: str) -> str:
    problem = inside_run_folder(value)
    if problem:
        raise ValueError(problem)
    return value


class CheckpointingConfig(Section):
    save_dir: str = Field(
        "checkpoints", description="Checkpoint folder, relative to the run folder."
    )
    _save_dir_inside = field_validator("save_dir")(_relative_folder)
    save_best: bool = Field(True, description="Write best.pth for the first monitored metric.")
    save_last: bool = Field(True, description="Write last.pth after every epoch.")
    save_every_n_epochs: int | None = Field(
        None, ge=1, description="Also write epoch_NNN.pth every N epochs (never pruned)."
    )
    save_every_n_steps: int | None = Field(
        None, ge=1, description="Write last.pth every N optimizer steps, also mid-epoch."
    )
    save_every_n_minutes: float | None = Field(
        None, gt=0.0, description="Write last.pth at least every N minutes, also mid-epoch."
    )
    monitor: str | list[str] = Field(
        "val_loss",
        description="Metric(s) for best checkpoints: best.pth for the first, best_<m>.pth others.",
    )
    mode: Mode | None = Field(None, description="Direction of the first monitored metric.")
    keep_top_k: int = Field(
        0, ge=0, description="Keep the k best validation checkpoints as epoch_NNN-metric=v.pth."
    )

    @property
    def monitors(self) -> list[str]:
        return [self.monitor] if isinstance(self.monitor, str) else list(self.monitor)


class WandbConfig(Section):
    enabled: bool = Field(
        False, description="Log to Weights & Biases (pip install trainforge[wandb])."
    )
    project: str | None = Field(None, description="W&B project.")
    entity: str | None = Field(None, description="W&B entity (team or user).")
    name: str | None = Field(None, description="Run name (default: the run folder's name).")
    tags: list[str] = Field(default_factory=list, description="Run tags.")
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None, description="W&B mode (default: WANDB_MODE or online)."
    )


class MlflowConfig(Section):
    enabled: bool = Field(False, description="Log to MLflow (pip install trainforge[mlflow]).")
    tracking_uri: str | None = Field(
        None, description="Tracking URI (default: a local mlruns folder in the run folder)."
    )
    experiment: str = Field("trainforge", description="Experiment name.")


class LoggingConfig(Section):
    log_dir: str = Field("logs", description="Log folder, relative to the run folder.")
    _log_dir_inside = field_validator("log_dir")(_relative_folder)
    log_every_n_steps: int = Field(50, ge=1, description="Write a step record every N steps.")
    val_every_n_epochs: int = Field(1, ge=1, description="Validate every N epochs.")
    tensorboard: bool = Field(True, description="Write TensorBoard event files.")
    wandb: WandbConfig = Field(default_factory=WandbConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    progress_bar: Literal["auto", "on", "off"] | bool = Field(
        "auto", description="Per-epoch progress bar (auto: only on a terminal)."
    )


class ReproducibilityConfig(Section):
    seed: int = Field(
        42,
        ge=0,
        le=2**32 - 1,
        description="Seeds python, numpy, torch, CUDA and data workers (0 to 2**32-1).",
    )
    deterministic: bool | Literal["strict"] = Field(
        False,
        description=(
            "true: deterministic algorithms, warn where an op has none; strict: error instead."
        ),
    )
    benchmark: bool = Field(False, description="cuDNN benchmark mode (fast, not reproducible).")


class TrainConfig(Section):
    """A whole training run."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    lr_scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    checkpointing: CheckpointingConfig = Field(default_factory=CheckpointingConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    reproducibility: ReproducibilityConfig = Field(default_factory=ReproducibilityConfig)
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig,
        description="Live health rules, resource records and alert sinks (training monitor).",
    )
    provenance: dict[str, Any] | None = Field(
        None, description="Free-form record of where this config came from (study, trial, run)."
    )

    @model_validator(mode="after")
    def _resolve(self) -> TrainConfig:
        # training.batch_size is an alias (SPEC's tips put it there); one value wins.
        alias = self.training.batch_size
        if alias is not None:
            data_set = "batch_size" in self.data.model_fields_set
            if data_set and self.data.batch_size != alias:
                raise ValueError(
                    f"training.batch_size ({alias}) and data.batch_size ({self.data.batch_size}) "
                    "differ; set only one of them"
                )
            self.data.batch_size = alias
            self.training.batch_size = None
        self.early_stopping.mode = _direction(
            self.early_stopping.metric, self.early_stopping.mode, "early_stopping"
        )
        self.checkpointing.mode = _direction(
            self.checkpointing.monitors[0], self.checkpointing.mode, "checkpointing"
        )
        for extra in self.checkpointing.monitors[1:]:
            _direction(extra, None, "checkpointing")
        if self.lr_scheduler.type == "plateau":
            if self.lr_scheduler.monitor is None:
                self.lr_scheduler.monitor = self.early_stopping.metric
            self.lr_scheduler.mode = _direction(
                self.lr_scheduler.monitor, self.lr_scheduler.mode, "lr_scheduler"
            )
        return self

    def require_data(self, source: str = "config") -> None:
        """A config run from the command line must say where its data is (the Python API may
        pass datasets instead)."""
        if not self.data.train_path and not self.data.source:
            raise ConfigError(
                f"invalid config {source}: data.train_path is required (a CSV file, an image "
                "folder or builtin:digits), or data.source: 'package.module:function'"
            )


def _direction(metric: str, mode: Mode | None, section: str) -> Mode:
    if mode is not None:
        return mode
    known = metric_direction(metric)
    if known is None:
        raise ValueError(
            f"{section}: the direction of metric '{metric}' is unknown; "
            f"set {section}.mode to min or max"
        )
    return known


def precision_mode(value: bool | str, device_type: str) -> Literal["fp32", "fp16", "bf16"]:
    """Which autocast dtype ``training.mixed_precision`` means on this device."""
    if value is False:
        return "fp32"
    if value is True:
        return "fp16" if device_type == "cuda" else "bf16"
    return "fp16" if value == "fp16" else "bf16"
