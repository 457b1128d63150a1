"""The plain Optuna script a user writes by hand: the same trials, in-process, no trainforge.

Random sampler (seed 0) over the same search space as the trainforge study (same names,
ranges and order, so the same values), an in-memory study, each trial trained by the
hand-written loop of ``digits_trials.py`` for ``--epochs`` epochs, saving its last and best
model state each epoch as a hand-written script does. Writes a JSON report of its timings.

    python optuna_loop.py --trials N --epochs E --out DIR --report FILE
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

started = time.time()

import optuna  # noqa: E402
import torch  # noqa: E402
from digits_trials import Params, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    trials: list[dict[str, float]] = []

    def objective(trial: optuna.Trial) -> float:
        begin = time.time()
        params = Params(
            learning_rate=trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
            hidden=trial.suggest_categorical("hidden_sizes", [32, 64, 128, 256, 512]),
            dropout=trial.suggest_float("dropout", 0.0, 0.5),
            weight_decay=trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
            batch_size=trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
        )
        folder = args.out / f"trial_{trial.number:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        best = [0.0]
        epoch_seconds = [0.0]
        tick = [time.time()]

        def on_epoch(epoch: int, accuracy: float, loss: float, model: torch.nn.Module) -> bool:
            epoch_seconds[0] += time.time() - tick[0]
            state = model.state_dict()
            torch.save(state, folder / "last.pth")
            if accuracy > best[0]:
                best[0] = accuracy
                torch.save(state, folder / "best.pth")
            tick[0] = time.time()
            return False

        train(params, args.epochs, on_epoch)
        trials.append({"start": begin, "end": time.time(), "training": epoch_seconds[0]})
        return best[0]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=args.trials)
    report = {"started": started, "trials": trials, "best": study.best_value}
    args.report.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
