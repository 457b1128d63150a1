"""The ``monitoring:`` section: live health rules, their thresholds, resources and alert sinks.

Every rule is on by default with the thresholds SPEC.md's Troubleshooting section implies
(a train/val accuracy gap above 10 points is overfitting, GPU utilisation should stay above
70%); the README lists them all.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class _Rule(_Section):
    enabled: bool = Field(True, description="Run this rule live and in reports.")


class NonfiniteRule(_Rule):
    """A NaN or infinite loss or gradient norm."""


class ExplodingGradientsRule(_Rule):
    factor: float = Field(
        10.0, gt=1.0, description="Fires when the grad norm exceeds factor x its running median."
    )
    window: int = Field(20, ge=3, description="Step records in the running median.")
    min_jump: float = Field(
        0.1,
        ge=0.0,
        description="The jump must also exceed this fraction of the run's starting level.",
    )


class LossSpikeRule(_Rule):
    factor: float = Field(
        3.0, gt=1.0, description="Fires when the step loss exceeds factor x its running median."
    )
    window: int = Field(20, ge=3, description="Step records in the running median.")
    min_jump: float = Field(
        0.1,
        ge=0.0,
        description="The jump must also exceed this fraction of the run's starting level.",
    )


class VanishingGradientsRule(_Rule):
    threshold: float = Field(1e-7, ge=0.0, description="Grad norm below this is vanishing.")
    patience: int = Field(3, ge=1, description="Consecutive step records below the threshold.")


class OverfittingRule(_Rule):
    max_accuracy_gap: float = Field(
        0.10, gt=0.0, le=1.0, description="train_accuracy - val_accuracy above this is overfitting."
    )
    rising_epochs: int = Field(
        3, ge=2, description="Epochs in a row of rising val_loss while train_loss falls."
    )


class UnderfittingRule(_Rule):
    min_epochs: int = Field(3, ge=2, description="Epochs before the rule judges.")
    high_fraction: float = Field(
        0.8,
        gt=0.0,
        le=1.0,
        description="Both losses above this fraction of the first epoch's train loss are high.",
    )
    flat_tolerance: float = Field(
        0.02, ge=0.0, description="Relative train-loss change over the window that counts as flat."
    )
    window: int = Field(3, ge=2, description="Epochs the losses must stay high and flat.")


class PlateauRule(_Rule):
    metric: str = Field("val_loss", description="Validation metric watched for progress.")
    patience: int = Field(5, ge=2, description="Validations without a new best.")
    min_delta: float = Field(
        1e-3, ge=0.0, description="Relative improvement that counts as progress."
    )


class LearningRateRule(_Rule):
    frozen_records: int = Field(
        10, ge=2, description="Step records with an unchanged LR while a schedule is set."
    )


class GpuUtilizationRule(_Rule):
    min_percent: float = Field(
        70.0, ge=0.0, le=100.0, description="Mean GPU utilisation below this fires (SPEC: >70%)."
    )
    window: int = Field(5, ge=1, description="Resource samples averaged.")


class DataLoadingRule(_Rule):
    max_wait_fraction: float = Field(
        0.5, gt=0.0, le=1.0, description="Mean share of step time spent waiting for data."
    )
    window: int = Field(5, ge=1, description="Step records averaged.")


class RulesConfig(_Section):
    nonfinite: NonfiniteRule = Field(
        default_factory=NonfiniteRule, description="Non-finite loss or gradient norm."
    )
    exploding_gradients: ExplodingGradientsRule = Field(
        default_factory=ExplodingGradientsRule, description="Grad norm far above its median."
    )
    loss_spike: LossSpikeRule = Field(
        default_factory=LossSpikeRule, description="Step loss far above its median."
    )
    vanishing_gradients: VanishingGradientsRule = Field(
        default_factory=VanishingGradientsRule, description="Grad norm near zero."
    )
    overfitting: OverfittingRule = Field(
        default_factory=OverfittingRule, description="Train/val gap or rising val loss."
    )
    underfitting: UnderfittingRule = Field(
        default_factory=UnderfittingRule, description="Both losses high and flat."
    )
    plateau: PlateauRule = Field(
        default_factory=PlateauRule, description="Validation metric stopped improving."
    )
    learning_rate: LearningRateRule = Field(
        default_factory=LearningRateRule, description="LR at zero, or frozen under a schedule."
    )
    gpu_utilization: GpuUtilizationRule = Field(
        default_factory=GpuUtilizationRule, description="GPU mostly idle."
    )
    data_loading: DataLoadingRule = Field(
        default_factory=DataLoadingRule, description="Data loading is the bottleneck."
    )


class AlertsConfig(_Section):
    webhook_url: str | None = Field(
        None, description="POST each alert as JSON to this http(s) URL (off the training thread)."
    )
    webhook_timeout_s: float = Field(
        3.0, gt=0.0, le=60.0, description="Seconds before a webhook POST is given up."
    )
    max_per_rule: int = Field(
        5, ge=1, description="Alerts of one rule per run; later episodes are only counted."
    )

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must start with http:// or https://, got {url!r}")
        return url


class MonitoringConfig(_Section):
    enabled: bool = Field(True, description="Run health rules and the resource sampler live.")
    resource_interval_s: float = Field(
        10.0,
        ge=0.0,
        description="Seconds between resource records (CPU, memory, GPU); 0 turns them off.",
    )
    rules: RulesConfig = Field(
        default_factory=RulesConfig, description="Health rules and their thresholds."
    )
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Where alerts go.")
