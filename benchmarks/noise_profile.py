"""Where the gradient noise's step time goes: TensorFlow profiler kernel times of a plain and a noisy train step.

Trains the 20x50 ReLU MLP of noise_overhead.py with plain SGD and with NoisySGD, profiles `--steps` steps of each
with `tf.profiler`, and prints per step: the wall time of the step function, the time inside XLA executables, and
the kernels (ops, XLA fusions) that take the most time. The noise generator shows up as one or two XLA fusions
(names such as `select_multiply_fusion` or `multiply_log-plus-one_fusion`) that the plain step does not have.

    python benchmarks/noise_profile.py                 # graph mode and jit_compile=True
    python benchmarks/noise_profile.py --jit=on --top=40

Profiling adds its own overhead and the numbers vary between runs on a shared machine: use this to see which
kernels the noise adds and how long they take, and noise_overhead.py for the step-time ratio.
"""

from __future__ import annotations

import collections
import glob
import os
import shutil
import statistics
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from noise_overhead import _data, mlp  # noqa: E402

import keras_gradnoise  # noqa: E402

# Trace events that are wrappers around other events, not kernels.
_WRAPPERS = (
    "ExecutorState",
    "ThunkExecutor",
    "Eager",
    "TFE_",
    "KernelAndDevice",
    "FunctionRun",
    "BlockUntilReady",
    "CpuExecutable",
    "__inference",
    "one_step_on_data",
    "tf.constant",
    "ThreadpoolListener",
    "ExecutorDoneCallback",
    "end: ",
)


def _xspace_class():
    try:
        from tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    return xplane_pb2.XSpace


def profile_steps(
    optimizer: keras.optimizers.Optimizer, jit_compile: bool, steps: int
) -> dict[str, list[float]]:
    """Durations in microseconds of every traced event name over `steps` profiled train steps."""
    keras.utils.set_random_seed(0)
    model = mlp()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    x, y = _data(model, 128)
    for _ in range(30):
        model.train_on_batch(x, y)
    logdir = tempfile.mkdtemp(prefix="noise_profile_")
    try:
        tf.profiler.experimental.start(logdir)
        for _ in range(steps):
            model.train_on_batch(x, y)
        tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        space = _xspace_class()()
        with open(path, "rb") as handle:
            space.ParseFromString(handle.read())
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    durations: dict[str, list[float]] = collections.defaultdict(list)
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                durations[plane.event_metadata[event.metadata_id].name].append(event.duration_ps / 1e6)
    return durations


def report(name: str, durations: dict[str, list[float]], steps: int, top: int) -> None:
    step = durations.get("one_step_on_data", [0.0])
    xla = durations.get("CpuExecutable::ExecuteAsyncOnStream", [])
    kernels = {k: v for k, v in durations.items() if not k.startswith(_WRAPPERS)}
    total = sum(sum(v) for v in kernels.values()) / steps
    count = sum(len(v) for v in kernels.values()) / steps
    line = f"{name}: step {statistics.median(step):.0f} us (median)"
    if xla:
        line += f", in XLA executables {sum(xla) / steps:.0f} us/step"
    print(f"{line}, {count:.0f} kernels taking {total:.0f} us/step")
    ranked = sorted(((sum(v) / steps, len(v) / steps, k) for k, v in kernels.items()), reverse=True)
    for per_step, count, kernel in ranked[:top]:
        print(f"    {per_step:8.1f} us/step  x{count:<5.1f} {kernel[:100]}")


FLAGS = flags.FLAGS


def define_flags() -> None:
    """The benchmark's flags (absl, as the scripts')."""
    flags.DEFINE_enum("jit", "both", ["both", "on", "off"], "jit_compile settings.")
    flags.DEFINE_integer("steps", 20, "Profiled steps per model.")
    flags.DEFINE_integer("top", 12, "Kernels listed per model.")


def main(argv: list[str]) -> None:
    """Profiles plain and noisy SGD steps and lists the costliest kernels."""
    del argv
    if keras.backend.backend() != "tensorflow":
        raise SystemExit(
            "noise_profile.py uses the TensorFlow profiler: run it with KERAS_BACKEND=tensorflow."
        )
    jits = {"both": (False, True), "on": (True,), "off": (False,)}[FLAGS.jit]
    for jit in jits:
        for name, optimizer in (
            ("plain SGD", keras.optimizers.SGD(0.01)),
            ("NoisySGD", keras_gradnoise.NoisySGD(0.01, eta=0.01, seed=0)),
        ):
            report(
                f"jit_compile={jit} {name}",
                profile_steps(optimizer, jit, FLAGS.steps),
                FLAGS.steps,
                FLAGS.top,
            )


if __name__ == "__main__":
    define_flags()
    app.run(main)
