"""One time-boxed Neural GPU run that records how its length generalization develops: a probe curve.

    python benchmarks/neural_gpu_sweep.py --config=default --seed=1 --seconds=400 --out=/tmp/probe/d20_s1.jsonl
    python benchmarks/neural_gpu_sweep.py --config=default --override=model_kwargs.nmaps=16 --seconds=60 \
        --out=/tmp/probe/n16.jsonl

Trains a named config (with `--override field=value` / `field.key=value`, as reproduce.py takes them) with its
curriculum, and every `--probe_every` epochs measures the per-bit and per-sequence error on fresh full-size
examples at `--probe_lengths` (default: the config's eval lengths). Each probe is one JSON line (epoch, steps,
training seconds, curriculum length, errors), appended as soon as it is measured, so a run cut off by a time limit
keeps its curve. The training stops at the first epoch end after `--seconds` (or after the config's epochs).

What it is for: finding a recipe that generalizes early, on a lent GPU where steps are cheap; step counts then
convert to CPU time with benchmarks/neural_gpu_steps.py's steps/s. benchmarks/neural_gpu_sweep_gpu.sh runs several
of these side by side on one GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

# The sibling benchmark (this script's folder is first on sys.path): the same model and optimizer setup.
from neural_gpu_steps import compiled_model  # noqa: E402

import zoo  # noqa: E402
from zoo.neural_gpu import tasks  # noqa: E402
from zoo.neural_gpu.data import NeuralGPUDataOptions, evaluate_lengths  # noqa: E402
from zoo.reproduce import parse_overrides  # noqa: E402

# Probe examples come from their own stream, apart from training data and the harness' evaluation seeds; every
# probe of every run sees the same examples per length, so curves and recipes compare on one test set.
PROBE_SEED = 424_243


class GeneralizationProbe(keras.callbacks.Callback):
    """Every `every` epochs (and at the last one) appends a probe record to `path`; stops after `seconds`."""

    def __init__(
        self, path: str, task: str, lengths: list[int], examples: int, every: int, seconds: float, epochs: int
    ) -> None:
        super().__init__()
        self.path, self.task, self.lengths, self.examples = path, task, lengths, examples
        self.every, self.seconds, self.epochs = every, seconds, epochs
        self.steps = 0
        self.train_seconds = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # Probing time is not training time: only the epochs' own time counts toward `seconds`.
        self.train_seconds += time.perf_counter() - self.epoch_started
        last = self.train_seconds > self.seconds or epoch + 1 >= self.epochs
        if last:
            self.model.stop_training = True
        if (epoch + 1) % self.every and not last:
            return
        started = time.perf_counter()
        errors = evaluate_lengths(self.model, self.task, self.lengths, self.examples, seed=PROBE_SEED)
        record = {
            "epoch": epoch + 1,
            "steps": self.steps,
            "train_seconds": round(self.train_seconds, 2),
            "probe_seconds": round(time.perf_counter() - started, 2),
            "curriculum_length": float((logs or {}).get("curriculum_length", float("nan"))),
            "train_bit_error": float((logs or {}).get("bit_error", float("nan"))),
            **{k: round(float(v), 5) for k, v in errors.items()},
        }
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        shown = " ".join(f"{n}:{errors[f'bit_error_len{n}']:.3f}" for n in self.lengths)
        print(
            f"[{os.path.basename(self.path)}] epoch {epoch + 1} steps {self.steps} "
            f"{self.train_seconds:.0f}s curriculum {record['curriculum_length']:.0f} bit error {shown}",
            flush=True,
        )


def run_probe(
    config: zoo.TrainConfig, out: str, seconds: float, every: int, lengths: list[int], examples: int
) -> None:
    """Trains `config` for about `seconds`, appending probe records to `out` (which is started afresh)."""
    options = NeuralGPUDataOptions(**config.data_kwargs)
    model = compiled_model(config)
    data = zoo.get("neural_gpu").make_data(config, None)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(json.dumps({"config": json.loads(config.to_json())}) + "\n")
    probe = GeneralizationProbe(out, options.task, lengths, examples, every, seconds, config.epochs)
    model.fit(data.train, epochs=config.epochs, callbacks=[*data.callbacks, probe], verbose=0)


def summarize(directory: str) -> str:
    """A table of every probe curve (*.jsonl) in `directory`: last probe, and when each length first got < 1%."""
    rows = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".jsonl"):
            continue
        with open(os.path.join(directory, name)) as f:
            records = [json.loads(line) for line in f if line.strip()]
        probes = [r for r in records if "epoch" in r]
        if not probes:
            rows.append(f"{name[:-6]:<16} no probe recorded")
            continue
        last = probes[-1]
        lengths = sorted(int(k[len("bit_error_len") :]) for k in last if k.startswith("bit_error_len"))
        cells = []
        for n in lengths:
            first = next((r["steps"] for r in probes if r[f"bit_error_len{n}"] < 0.01), None)
            cells.append(f"{n}:{last[f'bit_error_len{n}']:.4f}" + (f"(<1% at {first})" if first else ""))
        rate = last["steps"] / last["train_seconds"] if last["train_seconds"] else float("nan")
        rows.append(
            f"{name[:-6]:<16} steps {last['steps']:>6} ({rate:5.1f}/s) curriculum {last['curriculum_length']:>4.0f} "
            + " ".join(cells)
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="default", help="Named neural_gpu config.")
    parser.add_argument("--seed", type=int, default=None, help="Override the config's seed.")
    parser.add_argument(
        "--override", action="append", default=[], help="field=value or field.key=value (repeatable)."
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="Training time (probes excluded).")
    parser.add_argument("--probe_every", type=int, default=10, help="Epochs between probes.")
    parser.add_argument(
        "--probe_lengths", default=None, help="Comma-separated lengths; default: eval_lengths."
    )
    parser.add_argument("--probe_examples", type=int, default=32, help="Fresh examples per length and probe.")
    parser.add_argument("--epochs", type=int, default=100_000, help="Upper bound on epochs (time decides).")
    parser.add_argument("--out", default=None, help="JSON-lines file of the probe curve (overwritten).")
    parser.add_argument("--summarize", default=None, help="Only print a table of the curves in this folder.")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(args.summarize))
        return
    if not args.out:
        parser.error("--out is required (the probe curve's JSON-lines file).")
    if args.seconds <= 0 or args.probe_every < 1 or args.probe_examples < 1 or args.epochs < 1:
        parser.error("--seconds must be > 0; --probe_every, --probe_examples and --epochs >= 1.")
    try:
        config = zoo.get("neural_gpu").config(args.config)
        config = config.replace(**parse_overrides(args.override), epochs=args.epochs)
        if args.seed is not None:
            config = config.replace(seed=args.seed)
        zoo.get("neural_gpu").check_options(config)
        options = NeuralGPUDataOptions(**config.data_kwargs)
        lengths = (
            [tasks.check_length(int(v), "--probe_lengths entry") for v in args.probe_lengths.split(",")]
            if args.probe_lengths
            else list(options.eval_lengths)
        )
    except ValueError as error:
        parser.error(str(error))
    run_probe(config, args.out, args.seconds, args.probe_every, lengths, args.probe_examples)


if __name__ == "__main__":
    main()
