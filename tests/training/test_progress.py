"""Epoch progress: a listener registered with ``listen_epochs`` hears every ``fit`` run inside the block."""

from __future__ import annotations

import multiprocessing as mp
import sys

import optuna
import pytest

from autoopt.training import epoch_listener, fit, listen_epochs


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[tuple] = []
        self.fail = fail

    def start(self, epochs, metric):
        self.events.append(("start", epochs, metric))
        if self.fail:
            raise RuntimeError("display broke")

    def epoch(self, epoch, epochs, record):
        self.events.append(("epoch", epoch, epochs, round(record["val_accuracy"], 6)))
        if self.fail:
            raise RuntimeError("display broke")

    def end(self):
        self.events.append(("end",))


CFG = {"epochs": 3, "device": "cpu", "batch_size": 32, "lr": 0.05}


def test_every_epoch_is_heard_with_its_validation_metric(bundle, linear):
    rec = Recorder()
    with listen_epochs(rec):
        result = fit(linear(), bundle, CFG)
    assert rec.events[0] == ("start", 3, "accuracy") and rec.events[-1] == ("end",)
    epochs = [e for e in rec.events if e[0] == "epoch"]
    assert [e[1] for e in epochs] == [0, 1, 2] and all(e[2] == 3 for e in epochs)
    assert [e[3] for e in epochs] == [round(h["val_accuracy"], 6) for h in result.history]


def test_nothing_is_heard_outside_the_block_or_without_a_listener(bundle, linear):
    rec = Recorder()
    with listen_epochs(rec):
        pass
    with listen_epochs(None):
        fit(linear(), bundle, CFG)
    fit(linear(), bundle, CFG)
    assert rec.events == [] and epoch_listener() is None


def test_a_broken_display_never_fails_training(bundle, linear):
    rec = Recorder(fail=True)
    with listen_epochs(rec):
        result = fit(linear(), bundle, CFG)
    assert result.epochs_run == 3 and [e[0] for e in rec.events].count("epoch") == 3


def test_a_pruned_run_still_ends_its_bar(bundle, linear):
    rec = Recorder()

    def prune(value, epoch):
        raise optuna.TrialPruned()

    with listen_epochs(rec), pytest.raises(optuna.TrialPruned):
        fit(linear(), bundle, CFG, reporter=prune)
    assert [e[0] for e in rec.events] == ["start", "epoch", "end"]


def _child(queue):
    queue.put(epoch_listener() is None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_a_forked_worker_does_not_talk_to_its_parents_display():
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    with listen_epochs(Recorder()):
        assert epoch_listener() is not None
        p = ctx.Process(target=_child, args=(queue,))
        p.start()
        p.join(30)
    assert queue.get(timeout=10) is True
