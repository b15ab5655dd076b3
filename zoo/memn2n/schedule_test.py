"""The reference's two-stage schedule: switch, restarted learning rate and stop, against hand-written lists."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.memn2n import ENTRY
from zoo.memn2n.data import make_data
from zoo.memn2n.model import LAYER_NAME, build_model, compile_kwargs
from zoo.memn2n.schedule import ScheduleOptions, StageSchedule, learning_rate_at

V, M, S = 12, 4, 3


def test_learning_rate_restarts_at_the_switch_and_halves_as_train_m():
    # Switch at epoch 3, halving every 2 stage epochs, train.m's way: stage epoch k runs at
    # 0.005 * 0.5 ** ((k + 1) // 2), i.e. k = 0 -> 0.005, k = 1, 2 -> 0.0025, k = 3, 4 -> 0.00125.
    rates = [learning_rate_at(e, 3, 0.005, 2, 0.5) for e in range(8)]
    assert rates == [0.005, 0.005, 0.005, 0.005, 0.0025, 0.0025, 0.00125, 0.00125]
    # config_babi.m: 100 stage epochs halved every 25 -> 24 epochs at the start rate, then 25 per halving.
    stage = [learning_rate_at(20 + k, 20, 0.005, 25, 0.5) for k in range(100)]
    assert stage[:24] == [0.005] * 24 and stage[24:49] == [0.0025] * 25 and stage[99] == 0.005 / 16
    assert learning_rate_at(7, None, 0.005, 2, 0.5) == 0.005  # switch not known yet: linear-start rate


class _Record(keras.callbacks.Callback):
    """The learning rate and the softmax flag each epoch trains with (read at its first batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []
        self.softmax: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.rates.append(round(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)), 8))
            self.softmax.append(float(self.model.get_layer(LAYER_NAME).use_softmax))


class _FakeValLoss(keras.callbacks.Callback):
    """Replaces val_loss by a scripted sequence, placed before the schedule so that it sees it."""

    def __init__(self, losses: list[float]) -> None:
        super().__init__()
        self.losses = losses

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.losses[epoch]


def _fit(schedule: StageSchedule, losses: list[float], epochs: int) -> _Record:
    keras.utils.set_random_seed(0)
    model = build_model(V, memory_size=M, sentence_size=S, embedding_dim=4, hops=2, linear_start_epochs=1)
    model.compile(optimizer=keras.optimizers.SGD(1.0), **compile_kwargs(ENTRY.config("smoke")))
    rng = np.random.default_rng(0)
    inputs = {
        "story": rng.integers(0, V, (8, M, S)),
        "query": rng.integers(0, V, (8, S)),
        "time": np.tile(np.arange(1, M + 1), (8, 1)),
    }
    record = _Record()
    callbacks = [_FakeValLoss(losses), schedule, record]
    model.fit(inputs, np.arange(8) % V, batch_size=4, epochs=epochs, callbacks=callbacks, verbose=0)
    return record


def test_plateau_switch_restarts_the_schedule_and_stops_the_run():
    # Validation loss falls for 3 epochs, then rises at epoch 3 (0-based): the softmax is back from epoch 4,
    # whose rate restarts at 0.01; 3 stage epochs halved every 2 (k = 0: 0.01, k = 1, 2: 0.005); then stop,
    # although fit was asked for 10 epochs (the cap of 6 linear-start epochs is not reached).
    options = ScheduleOptions(switch="plateau", stage_epochs=3, decay_every=2, patience=1)
    schedule = StageSchedule(options, linear_start_epochs=6, learning_rate=0.01, decay_factor=0.5)
    record = _fit(schedule, [5.0, 4.0, 3.0, 3.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], epochs=10)
    assert record.softmax == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert record.rates == [0.01, 0.01, 0.01, 0.01, 0.01, 0.005, 0.005]
    assert schedule.get_state()["switch_epoch"] == 4


def test_plateau_switch_waits_patience_epochs_and_is_capped():
    options = ScheduleOptions(switch="plateau", stage_epochs=2, decay_every=1, patience=2)
    # Equal is no improvement: epochs 1 and 2 do not improve on 2.0 -> switch at 3.
    schedule = StageSchedule(options, linear_start_epochs=10, learning_rate=0.1, decay_factor=0.5)
    record = _fit(schedule, [2.0, 2.0, 2.5, 1.0, 1.0, 1.0], epochs=6)
    assert record.softmax == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert record.rates == [0.1, 0.1, 0.1, 0.05, 0.025]
    # Always falling: the switch comes at the cap (2 linear-start epochs).
    schedule = StageSchedule(options, linear_start_epochs=2, learning_rate=0.1, decay_factor=0.5)
    record = _fit(schedule, [5.0, 4.0, 3.0, 2.0, 1.0], epochs=5)
    assert record.softmax == [0.0, 0.0, 1.0, 1.0]
    assert record.rates == [0.1, 0.1, 0.05, 0.025]


def test_fixed_switch_and_one_stage():
    options = ScheduleOptions(switch="epochs", stage_epochs=3, decay_every=2)
    schedule = StageSchedule(options, linear_start_epochs=2, learning_rate=0.01, decay_factor=0.5)
    record = _fit(schedule, [1.0] * 5, epochs=5)  # a flat loss would switch at once with "plateau"
    assert record.softmax == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert record.rates == [0.01, 0.01, 0.01, 0.005, 0.005]
    one_stage = StageSchedule(options, linear_start_epochs=0, learning_rate=0.01, decay_factor=0.5)
    record = _fit(one_stage, [1.0] * 5, epochs=5)
    assert record.softmax == [1.0, 1.0, 1.0]
    assert record.rates == [0.01, 0.005, 0.005]


def test_a_resumed_schedule_continues_and_a_finished_one_trains_no_further():
    options = ScheduleOptions(switch="plateau", stage_epochs=2, decay_every=1)
    schedule = StageSchedule(options, linear_start_epochs=5, learning_rate=0.1, decay_factor=0.5)
    schedule.set_state({"switch_epoch": 1, "best": 3.0, "waited": 1})
    assert schedule.stop_epoch() == 3
    record = _fit(schedule, [1.0] * 4, epochs=4)  # from epoch 0 here: epochs 0-2, rates by the saved switch
    assert record.rates == [0.1, 0.05, 0.025]
    assert StageSchedule(options, 5, 0.1, 0.5).get_state() == {
        "switch_epoch": None,
        "best": None,
        "waited": 0,
    }


@pytest.mark.parametrize(
    "schedule, message",
    [
        ({"switch": "loss"}, "switch must be one of"),
        ({"stage_epochs": 0}, "stage_epochs must be an integer"),
        ({"patience": 1.5}, "patience must be an integer"),
        ({"decay": 25}, "Unknown data_kwargs schedule keys"),
    ],
)
def test_bad_schedule_options(schedule, message):
    with pytest.raises(ValueError, match=message):
        make_data(ENTRY.config("per_task_smoke").replace(data_kwargs={"schedule": schedule}), None)


def test_the_schedule_refuses_a_step_decay_config():
    with pytest.raises(ValueError, match="lr_decay_every_epochs=None"):
        make_data(ENTRY.config("per_task_smoke").replace(lr_decay_every_epochs=25), None)


def test_reference_configs_hold_the_reference_numbers():
    # config_babi.m / config_babi_joint.m, read by hand: see the configs' comments.
    per_task, joint = ENTRY.config("per_task"), ENTRY.config("joint_reference")
    assert (per_task.learning_rate, per_task.model_kwargs["linear_start_epochs"]) == (0.005, 20)
    assert per_task.data_kwargs["schedule"] == {
        "switch": "plateau",
        "stage_epochs": 100,
        "decay_every": 25,
        "patience": 1,
    }
    assert per_task.model_kwargs["embedding_dim"] == 20 and per_task.epochs == 120
    assert per_task.data_kwargs["tasks"] == [1]
    for config in (per_task, joint):  # nn/Weight.m clips each weight's gradient on its own
        assert (config.global_clipnorm, config.clipnorm) == (None, 40.0)
    assert (joint.learning_rate, joint.model_kwargs["linear_start_epochs"]) == (0.005, 30)
    assert (
        joint.data_kwargs["schedule"]["stage_epochs"] == 60
        and joint.data_kwargs["schedule"]["decay_every"] == 15
    )
    assert (
        joint.model_kwargs["embedding_dim"] == 50
        and joint.epochs == 90
        and len(joint.data_kwargs["tasks"]) == 20
    )
    assert ENTRY.config("per_task_fixed").data_kwargs["schedule"]["switch"] == "epochs"
    assert ENTRY.config("per_task_no_rn").data_kwargs["time_noise"] == 0.0
    # The configs from before the schedule still resolve without the key.
    assert "schedule" not in ENTRY.config("joint_cpu").data_kwargs
