"""Where a trained Neural GPU stops generalizing: longer tapes versus longer operands.

Two sweeps on fresh examples of the model's task:
  * tape: operands of `--bits` bits (default 9, the largest the `default` config trains on) padded into ever
    longer tapes, so only the amount of padding (and the number of steps) grows;
  * operands: full-size operands at each length, so the numbers themselves grow.
A model that learned the algorithm is exact in both; one tied to its training sizes fails in the second only.
With --by_position, each operand-sweep row is followed by the per-bit error at result positions 0-4, 5-9, ...
(for addition, result bit i depends only on operand bits 0..i).

    python benchmarks/neural_gpu_generalization.py                                   # the pretrained `badd` preset
    python benchmarks/neural_gpu_generalization.py --model_path=/tmp/ngpu/model.keras --lengths=21,25,31,41
    python benchmarks/neural_gpu_generalization.py --preset=badd20 --bits=20 --lengths=61,81,101 --by_position
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("model_path", None, "A .keras Neural GPU; default: the pretrained --preset.")
    flags.DEFINE_string("preset", "badd", "Pretrained preset used when --model_path is not given.")
    flags.DEFINE_string("task", "badd", "badd or bmul.")
    flags.DEFINE_integer(
        "bits",
        9,
        "Operand size of the tape sweep; use the largest the model trained on (9 for `default`, 20 for `badd20`).",
    )
    flags.DEFINE_list(
        "lengths", ["19", "21", "23", "25", "29", "33", "41"], "Sequence lengths of both sweeps."
    )
    flags.DEFINE_integer("examples", 64, "Fresh examples per length and sweep.")
    flags.DEFINE_integer("seed", 20151120, "Seed of the example generator.")
    flags.DEFINE_bool("by_position", False, "Also print the operand sweep's error by result position.")


def main(argv: list[str]) -> None:
    del argv
    import zoo
    from zoo.neural_gpu import tasks

    if FLAGS.model_path:
        import keras

        import keras_gradnoise  # noqa: F401  (registers the optimizers a saved model may reference)

        model = keras.saving.load_model(FLAGS.model_path)
    else:
        model = zoo.load_pretrained("neural_gpu", FLAGS.preset)
    print(f"{'length':>6} {'bits':>5} | tape sweep: bit / sequence error | {'bits':>5} | operand sweep")
    for length in (int(text) for text in FLAGS.lengths):
        tape = tasks.measure_error(model, FLAGS.task, length, FLAGS.examples, FLAGS.seed, bits=FLAGS.bits)
        full = tasks.measure_error(
            model, FLAGS.task, length, FLAGS.examples, FLAGS.seed, by_position=FLAGS.by_position
        )
        print(
            f"{length:6d} {FLAGS.bits:5d} | {tape['bit_error']:10.4f} / {tape['sequence_error']:.3f}"
            f"{'':17s}| {tasks.operand_bits(length):5d} | {full['bit_error']:.4f} / {full['sequence_error']:.3f}",
            flush=True,
        )
        if FLAGS.by_position:
            profile = np.array(full["position_error"])
            groups = [
                f"{start}-{start + 4}: {np.nanmean(profile[start : start + 5]):.3f}"
                for start in range(0, len(profile), 5)
                if not np.isnan(profile[start : start + 5]).all()
            ]
            print(f"{'':6s} error by result position: {', '.join(groups)}", flush=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
