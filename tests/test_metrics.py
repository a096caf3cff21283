"""What a run shows of itself: metrics.csv against what each step computed, continuous across a resume,
TensorBoard events parsed back, the gradient flow kept in the history (equal to gradient_flow on the saved
model, and never changing what training computes), the pictures drawn."""

import dataclasses
import json
import math
import struct

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn.checkpoint import save_checkpoint
from autograd_rnn.errors import ConfigError, DataError, TrainingDiverged
from autograd_rnn.train import TrainConfig, loop, model_from_checkpoint, train, watch
from autograd_rnn.train.corpus import Data
from autograd_rnn.train.events import EVENTS_FILE, crc32c, event
from autograd_rnn.train.metrics import COLUMNS, HEADER, METRICS_FILE, TAGS, read_metrics
from autograd_rnn.train.plot import loss_frame, running_mean
from autograd_rnn.viz import gradient_flow

TIMING = ("elapsed_s", "tokens_per_s")


def config(corpus, out, **kw):
    base = dict(corpus=corpus, hidden=12, embed=6, batch=3, seq_len=10, steps=12, eval_every=4, eval_tokens=300,
                sample_length=5, out=str(out), progress=False, plot=False)
    base.update(kw)
    return TrainConfig(**base)


def quiet_train(cfg, capsys=None):
    result = train(cfg)
    if capsys is not None:
        capsys.readouterr()
    return result


def same_rows(a: dict, b: dict) -> list[str]:
    """The columns (timing aside) in which two metrics differ."""
    return [k for k in COLUMNS if k not in TIMING and not np.array_equal(a[k], b[k], equal_nan=True)]


# ----- the CSV against the run -------------------------------------------------------------------------------------
def test_every_row_holds_what_its_step_computed(corpus, tmp_path, monkeypatch):
    """The loss train_step returned, the norm clip_grad_norm returned, clipped exactly when it exceeded --clip,
    the learning rate of the cosine schedule at that step, the validation loss of each evaluation."""
    losses, norms = [], []
    step, clip = loop.Run.train_step, loop.clip_grad_norm
    monkeypatch.setattr(loop.Run, "train_step", lambda self: losses.append(step(self)[0]) or (losses[-1], 30.0))
    monkeypatch.setattr(loop, "clip_grad_norm", lambda p, m: norms.append(clip(p, m)) or norms[-1])
    median = 0.30  # about the median gradient norm of this model: some steps clipped, some not
    result = train(config(corpus, tmp_path / "run", schedule="cosine", clip=median, lr=3e-3))
    m = read_metrics(tmp_path / "run" / METRICS_FILE)
    assert list(m["step"]) == list(range(1, 13))
    assert m["train_loss"].tolist() == losses and m["grad_norm"].tolist() == norms
    assert m["clipped"].tolist() == [int(n > median) for n in norms] and 0 < m["clipped"].sum() < 12
    lr0, low = 3e-3, 3e-4
    expected = [low + (lr0 - low) * 0.5 * (1 + math.cos(math.pi * (n - 1) / 12)) for n in range(1, 13)]
    np.testing.assert_allclose(m["lr"], expected, rtol=1e-13)
    evaluated = {h["step"]: h["val"] for h in result.history}
    assert sorted(evaluated) == [4, 8, 12]
    for s, v in zip(m["step"], m["val_loss"]):
        assert (v == evaluated[s]) if s in evaluated else math.isnan(v)
    assert np.all(np.diff(m["elapsed_s"]) >= 0) and np.all(m["tokens_per_s"] > 0)
    smoothed = running_mean(m["train_loss"])  # what the curve draws is what the run reported
    assert [smoothed[s - 1] for s in evaluated] == [h["train"] for h in result.history]


def test_the_file_has_the_header_and_exact_numbers(corpus, tmp_path):
    quiet_train(config(corpus, tmp_path / "run", steps=4))
    text = (tmp_path / "run" / METRICS_FILE).read_text()
    assert text.startswith(HEADER) and text.count("\n") == 5
    last = text.splitlines()[-1].split(",")
    assert len(last) == len(COLUMNS) and last[-1] and float(last[4]) == read_metrics(tmp_path / "run" /
                                                                                     METRICS_FILE)["train_loss"][-1]


def test_a_run_without_clipping_never_says_clipped(corpus, tmp_path):
    quiet_train(config(corpus, tmp_path / "run", steps=4, clip=None, lr=0.5, optimizer="sgd"))
    m = read_metrics(tmp_path / "run" / METRICS_FILE)
    assert m["clipped"].tolist() == [0, 0, 0, 0] and m["lr"].tolist() == [0.5] * 4


# ----- resumed runs ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stop", [6, 8])  # between evaluations (a Ctrl-C), and at one
def test_a_stopped_and_resumed_run_has_the_rows_of_an_uninterrupted_one(corpus, tmp_path, stop):
    whole = quiet_train(config(corpus, tmp_path / "whole", schedule="cosine", flow=True))
    quiet_train(config(corpus, tmp_path / "part", schedule="cosine", flow=True, stop_after=stop))
    first = read_metrics(tmp_path / "part" / METRICS_FILE)
    assert first["step"].tolist() == list(range(1, stop + 1))
    resumed = quiet_train(config(corpus, tmp_path / "part", resume=True))
    a, b = read_metrics(tmp_path / "whole" / METRICS_FILE), read_metrics(tmp_path / "part" / METRICS_FILE)
    assert same_rows(a, b) == []
    assert np.all(np.diff(b["elapsed_s"]) >= 0) and b["elapsed_s"][stop] >= first["elapsed_s"][-1]
    assert [h["flow"] for h in resumed.history] == [h["flow"] for h in whole.history]  # the flow plot continues
    ck = ar.load_checkpoint(tmp_path / "part" / "last.npz")
    assert ck.progress["elapsed"] >= b["elapsed_s"][-1] - 5e-4 and ck.progress["started"] > 1e9  # rows: to the ms


def test_rows_past_the_checkpoint_are_dropped_on_resume(corpus, tmp_path):
    """An interrupted run may have written rows its checkpoint does not hold (and a half line, if it was
    killed while writing): the resumed run drops them and continues from its checkpoint's step."""
    whole = config(corpus, tmp_path / "whole")
    quiet_train(whole)
    quiet_train(config(corpus, tmp_path / "part", stop_after=5))
    path = tmp_path / "part" / METRICS_FILE
    with open(path, "a") as f:
        f.write("6,9.000,1.0,0.1,9.0,9.0,0,\n7,9.500,1.0,0.1,9.0,9.0,0,\n8,10.0")  # and a partial line
    quiet_train(config(corpus, tmp_path / "part", resume=True))
    assert same_rows(read_metrics(tmp_path / "whole" / METRICS_FILE), read_metrics(path)) == []


def test_a_run_from_before_metrics_resumes_and_starts_its_file(corpus, tmp_path):
    """A checkpoint without the clock (an earlier version's) and a folder without metrics.csv: the resumed
    run writes the rows of the steps it takes."""
    out = tmp_path / "run"
    quiet_train(config(corpus, out, stop_after=4))
    ck = ar.load_checkpoint(out / "last.npz")
    for key in ("elapsed", "started"):
        del ck.progress[key]
    (out / "last.npz").unlink()
    (out / METRICS_FILE).unlink()
    save_checkpoint(out / "last.npz", **dataclasses.asdict(ck))
    quiet_train(config(corpus, out, resume=True))
    m = read_metrics(out / METRICS_FILE)
    assert m["step"].tolist() == list(range(5, 13)) and np.all(m["elapsed_s"] >= 0)


def test_a_resume_refuses_a_metrics_file_it_did_not_write(corpus, tmp_path):
    quiet_train(config(corpus, tmp_path / "run", stop_after=4))
    (tmp_path / "run" / METRICS_FILE).write_text("epoch;loss\n1;2\n")
    with pytest.raises(ConfigError, match="not a metrics file this package can continue.*move it away"):
        train(config(corpus, tmp_path / "run", resume=True))
    assert (tmp_path / "run" / METRICS_FILE).read_text() == "epoch;loss\n1;2\n"


def test_the_reader_drops_a_partial_last_line_and_names_a_damaged_one(tmp_path):
    path = tmp_path / METRICS_FILE
    path.write_text(HEADER + "1,0.010,5.0,0.1,2.5,0.3,0,\n2,0.020,5.0,0.1,2.4,0.3,1,2.45\n3,0.0")
    m = read_metrics(path)
    assert m["step"].tolist() == [1, 2] and m["clipped"].tolist() == [0, 1] and math.isnan(m["val_loss"][0])
    path.write_text(HEADER + "1,0.010,5.0,0.1,2.5,0.3,0,\n2,0.020,five,0.1,2.4,0.3,1,\n")
    with pytest.raises(DataError, match=r"line 3: '2,0.020,five.*expected 8 comma-separated numbers"):
        read_metrics(path)
    path.write_text("step,loss\n1,2\n")
    with pytest.raises(DataError, match="does not start with the metrics header"):
        read_metrics(path)
    path.write_text(HEADER)
    assert read_metrics(path)["step"].shape == (0,)


# ----- TensorBoard events -----------------------------------------------------------------------------------------
def crc32c_bitwise(data: bytes) -> int:
    """CRC-32C one bit at a time: a second implementation, to check the table-driven one."""
    c = 0xFFFFFFFF
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
    return c ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    c = crc32c_bitwise(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = buf[i]
        n |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return n, i


def proto_fields(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        else:
            raise AssertionError(f"wire type {wire}")
        yield number, value


def read_events(data: bytes) -> list[dict]:
    """Every record of an event file, CRCs checked: {"wall", "step", "version", "scalars"}."""
    i, out = 0, []
    while i < len(data):
        header = data[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[i + 8:i + 12])[0] == masked(header), "length CRC"
        payload = data[i + 12:i + 12 + length]
        assert struct.unpack("<I", data[i + 12 + length:i + 16 + length])[0] == masked(payload), "payload CRC"
        i += 16 + length
        ev = {"scalars": {}}
        for number, value in proto_fields(payload):
            if number == 1:
                ev["wall"] = struct.unpack("<d", value)[0]
            elif number == 2:
                ev["step"] = value
            elif number == 3:
                ev["version"] = value.decode()
            elif number == 5:
                for _, v in proto_fields(value):
                    parts = dict(proto_fields(v))
                    ev["scalars"][parts[1].decode()] = struct.unpack("<f", parts[2])[0]
        out.append(ev)
    return out


def test_crc32c_and_the_record_framing():
    assert crc32c(b"123456789") == 0xE3069283 == crc32c_bitwise(b"123456789")
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 300):
        data = rng.bytes(n)
        assert crc32c(data) == crc32c_bitwise(data)
    (ev,) = read_events(event(12.5, 300, {"loss/train": 1.25}))
    assert ev == {"wall": 12.5, "step": 300, "scalars": {"loss/train": 1.25}}


@pytest.mark.parametrize("stop", [None, 6])
def test_event_files_hold_the_metrics_and_parse_back(corpus, tmp_path, monkeypatch, stop):
    monkeypatch.setattr(watch, "tensorboard_installed", lambda: True)
    out = tmp_path / "run"
    quiet_train(config(corpus, out, stop_after=stop))
    if stop:
        with open(out / METRICS_FILE, "a") as f:  # a row past the checkpoint, written before a crash
            f.write("7,9.000,1.0,0.1,9.0,9.0,0,\n")
        with open(out / EVENTS_FILE, "ab") as f:  # and its event
            f.write(event(1e9, 7, {"loss/train": 9.0}))
        quiet_train(config(corpus, out, resume=True))
    m = read_metrics(out / METRICS_FILE)
    events = read_events((out / EVENTS_FILE).read_bytes())
    started = ar.load_checkpoint(out / "last.npz").progress["started"]
    assert events[0] == {"wall": started, "version": "brain.Event:2", "scalars": {}}
    assert [e["step"] for e in events[1:]] == m["step"].tolist() == list(range(1, 13))
    for k, e in enumerate(events[1:]):
        assert e["wall"] == started + m["elapsed_s"][k]
        for column, tag in TAGS.items():
            value = m[column][k]
            if column == "val_loss" and math.isnan(value):
                assert tag not in e["scalars"]
            else:
                assert e["scalars"][tag] == np.float32(value), (k, tag)


def test_tensorboard_reads_the_event_files(corpus, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setattr(watch, "tensorboard_installed", lambda: True)
    quiet_train(config(corpus, tmp_path / "run"))
    acc = EventAccumulator(str(tmp_path / "run"))
    acc.Reload()
    m = read_metrics(tmp_path / "run" / METRICS_FILE)
    assert set(acc.Tags()["scalars"]) == set(TAGS.values())
    assert [(s.step, s.value) for s in acc.Scalars("loss/train")] == [
        (int(s), float(np.float32(v))) for s, v in zip(m["step"], m["train_loss"])]
    assert [s.step for s in acc.Scalars("loss/validation")] == [4, 8, 12]


def test_event_files_only_when_tensorboard_is_installed_and_not_turned_off(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(watch, "tensorboard_installed", lambda: False)
    quiet_train(config(corpus, tmp_path / "a", steps=4))
    monkeypatch.setattr(watch, "tensorboard_installed", lambda: True)
    quiet_train(config(corpus, tmp_path / "b", steps=4, tensorboard=False))
    assert not (tmp_path / "a" / EVENTS_FILE).exists() and not (tmp_path / "b" / EVENTS_FILE).exists()
    assert (tmp_path / "a" / METRICS_FILE).exists() and (tmp_path / "b" / METRICS_FILE).exists()


# ----- gradient flow during training -------------------------------------------------------------------------------
def test_the_flow_in_the_history_is_gradient_flow_of_the_saved_model(corpus, tmp_path):
    cfg = config(corpus, tmp_path / "run", layers=2, hidden=10)
    result = quiet_train(cfg)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["flow"]["label"] for h in history] == ["step 4", "step 8", "step 12"]
    model, vocab = model_from_checkpoint(ar.load_checkpoint(tmp_path / "run" / "last.npz"))
    x, y = watch.flow_chunk(Data(cfg, open(corpus).read(), vocab))
    assert x.shape == (cfg.seq_len, min(cfg.batch, watch.FLOW_STREAMS))
    origins = list(range(len(x) - watch.FLOW_ORIGINS, len(x)))
    record = gradient_flow(model, x, y, origins=origins)
    assert np.array_equal(np.array(history[-1]["flow"]["norms"]), record.norms)
    assert record.norms.shape == (2, cfg.seq_len) and result.history[-1]["flow"] == history[-1]["flow"]


@pytest.mark.parametrize("batching", ["stream", "lines"])
def test_measuring_the_flow_changes_nothing_that_training_computes(corpus, tmp_path, batching):
    """With dropout (the model's generator in use) and each batching: the same rows, samples and weights,
    bit for bit, with and without the measurement."""
    kw = dict(layers=2, dropout=0.3, batching=batching, steps=8)
    with_flow = quiet_train(config(corpus, tmp_path / "on", flow=True, **kw))
    without = quiet_train(config(corpus, tmp_path / "off", flow=False, **kw))
    assert all("flow" in h for h in with_flow.history) and not any("flow" in h for h in without.history)
    def same(history):  # the flow and the seconds apart (a clock is no part of what training computes)
        return [{k: v for k, v in h.items() if k not in ("flow", "seconds")} for h in history]

    assert same(with_flow.history) == same(without.history) and "final" in without.history[-1]
    a, b = ar.load_checkpoint(tmp_path / "on" / "last.npz"), ar.load_checkpoint(tmp_path / "off" / "last.npz")
    assert all(np.array_equal(a.model[k], b.model[k]) for k in a.model) and a.rng_state == b.rng_state
    assert same_rows(read_metrics(tmp_path / "on" / METRICS_FILE), read_metrics(tmp_path / "off" / METRICS_FILE)) == []


def test_the_flow_chunk_of_line_batches_holds_no_padding(corpus, tmp_path):
    cfg = config(corpus, tmp_path / "x", batching="lines", batch=6)
    data = Data(cfg, open(corpus).read())
    x, y = watch.flow_chunk(data)
    _, _, mask = next(iter(data.val))
    assert len(x) == int(mask.sum(axis=0).min()) and np.all(y != data.vocab.pad_id)


# ----- pictures -----------------------------------------------------------------------------------------------------
def ink(path) -> float:
    """The share of pixels that are not background."""
    from matplotlib.image import imread

    image = imread(path)[..., :3]
    return float(np.mean(np.any(image < 0.9, axis=-1)))


def test_the_pictures_are_drawn(corpus, tmp_path):
    pytest.importorskip("matplotlib")
    quiet_train(config(corpus, tmp_path / "run", plot=True, schedule="cosine", layers=2))
    for name in ("loss_curve.png", "gradient_flow.png"):
        data = (tmp_path / "run" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and ink(tmp_path / "run" / name) > 0.02, name
    quiet_train(config(corpus, tmp_path / "early", plot=True, stop_after=2))  # stopped before any evaluation
    assert ink(tmp_path / "early" / "loss_curve.png") > 0.02 and not (tmp_path / "early" / "gradient_flow.png").exists()


@pytest.mark.parametrize("later, unigram", [(1.0, 4.0), (2.5, 2.0)])  # below the baseline, or never
def test_curve_lines_are_where_the_numbers_say(tmp_path, later, unigram):
    """A curve drawn from metrics where the loss is 3, then lower: the running mean's blue is higher on the left."""
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from autograd_rnn.train.plot import plot_curve

    n = 200
    m = {"step": np.arange(1, n + 1), "train_loss": np.r_[np.full(n // 2, 3.0), np.full(n // 2, later)],
         "grad_norm": np.full(n, 0.5), "lr": np.full(n, 1e-3), "clipped": np.zeros(n, int)}
    assert plot_curve(tmp_path / "c.png", m, [{"step": n, "val": later + 0.1}], unigram, "a title", 5.0)
    image = imread(tmp_path / "c.png")[..., :3]
    blue = np.all(np.abs(image - np.array([0x1F, 0x77, 0xB4]) / 255) < 0.08, axis=-1)
    rows, cols = np.nonzero(blue)
    assert len(rows) > 100
    left, right = rows[cols < np.percentile(cols, 30)], rows[cols > np.percentile(cols, 70)]
    assert left.mean() < right.mean()  # higher loss, higher on the picture (smaller row index)


def test_the_loss_frame_starts_at_the_baseline_once_the_loss_is_below_it():
    assert loss_frame(np.array([3.0, 2.5]), [2.6], 2.0) is None  # never below: everything shown
    low, high = loss_frame(np.array([4.6, 3.0, 1.0]), [1.1, 2.5], 2.0)
    assert low < 1.0 and 2.5 < high < 3.0  # the lowest loss and every validation in, the first steps out
    low, high = loss_frame(np.array([4.6, 1.0]), [], 3.3)
    assert low < 1.0 and 3.3 < high < 4.6


def test_pictures_are_redrawn_within_their_share_of_the_time(corpus, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    drawn = []
    monkeypatch.setattr(watch.Watch, "_draw", lambda self: drawn.append(self.run.progress.step))
    quiet_train(config(corpus, tmp_path / "all", plot=True))
    assert drawn == [4, 8, 12]  # drawing costs nothing here: at every evaluation
    drawn.clear()
    monkeypatch.setattr(watch, "PLOT_SHARE", 0.0)
    quiet_train(config(corpus, tmp_path / "few", plot=True, stop_after=10))
    assert drawn == [4, 10]  # the first evaluation, then only when the run stops
    drawn.clear()
    quiet_train(config(corpus, tmp_path / "none", plot=False))
    assert drawn == []


def test_a_run_that_diverges_keeps_its_rows(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "MAX_LOSS", 0.0)  # the first loss counts as divergence ...
    with pytest.raises(TrainingDiverged):
        train(config(corpus, tmp_path / "run"))
    assert not (tmp_path / "run" / METRICS_FILE).exists()  # ... before any row; nothing to keep
    monkeypatch.setattr(loop, "MAX_LOSS", 1000.0)
    real = loop.Run.train_step

    def diverge_at_6(self):
        if self.progress.step == 5:
            raise self.diverged("planted")
        return real(self)

    monkeypatch.setattr(loop.Run, "train_step", diverge_at_6)
    with pytest.raises(TrainingDiverged, match="planted"):
        train(config(corpus, tmp_path / "run"))
    assert read_metrics(tmp_path / "run" / METRICS_FILE)["step"].tolist() == [1, 2, 3, 4, 5]
