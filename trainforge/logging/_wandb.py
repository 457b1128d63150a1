"""Weights & Biases, for users who enable it (an optional extra)."""

from __future__ import annotations

import os
import uuid
from typing import Any

from trainforge.config.schema import WandbConfig
from trainforge.errors import ConfigError
from trainforge.logging._base import import_optional, tracker_scalars

# Our own x-axis: W&B's built-in step must only grow, which a resumed run (re-logging steps
# after its checkpoint) or a validation logged after later step records would violate.
_STEP_KEY = "global_step"


class WandbSink:
    """One W&B run per training run; a resumed run continues under its stored id."""

    name = "wandb"

    def __init__(
        self,
        cfg: WandbConfig,
        run_dir: str | os.PathLike[str],
        run_name: str,
        config_dict: dict[str, Any],
        *,
        resume_id: str | None = None,
    ) -> None:
        wandb: Any = import_optional("wandb", "logging.wandb.enabled", "wandb")
        run_id = resume_id or uuid.uuid4().hex[:12]
        try:
            self._run: Any = wandb.init(
                project=cfg.project,
                entity=cfg.entity,
                name=cfg.name or run_name,
                tags=list(cfg.tags) or None,
                dir=os.fspath(run_dir),
                config=config_dict,
                id=run_id,
                resume="allow",
                mode=cfg.mode,
            )
        except Exception as exc:  # network, auth, bad entity: all fixable by the user
            raise ConfigError(
                f"wandb.init failed for project {cfg.project!r}: {exc}; check logging.wandb "
                "or set logging.wandb.mode: offline"
            ) from None
        self.run_id: str = str(self._run.id)
        self._run.define_metric(_STEP_KEY)
        self._run.define_metric("*", step_metric=_STEP_KEY)

    def log(self, record: dict[str, Any]) -> None:
        if self._run is None:
            raise ValueError("W&B sink is closed")
        scalars = tracker_scalars(record)
        if scalars is None:
            return
        step, values = scalars
        self._run.log({**values, _STEP_KEY: step})

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    def close(self) -> None:
        if self._run is not None:
            run, self._run = self._run, None
            run.finish()
