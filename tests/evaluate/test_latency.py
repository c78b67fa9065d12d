from __future__ import annotations

import pytest
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from autoopt.evaluate import PeakMemory, measure_latency, onnx_session
from autoopt.exceptions import InvalidSpecError


@pytest.fixture(scope="module")
def int8_onnx(exported, tmp_path_factory):
    out, _ = exported
    path = tmp_path_factory.mktemp("int8") / "model.int8.onnx"
    quantize_dynamic(str(out / "model.onnx"), str(path), weight_type=QuantType.QInt8)
    return path


@pytest.mark.parametrize("kind", ["module", "program", "pt2", "onnx", "onnx_int8", "session"])
def test_percentiles_are_sane_for_every_backend(kind, cnn, exported, int8_onnx):
    out, _ = exported
    target, backend, shape = {
        "module": (cnn, "torch", (1, 8, 8)),
        "program": (torch.export.load(str(out / "model.pt2")), "pt2", None),
        "pt2": (out / "model.pt2", "pt2", None),
        "onnx": (out / "model.onnx", "onnxruntime", None),
        "onnx_int8": (int8_onnx, "onnxruntime", None),
        "session": (onnx_session(out / "model.onnx", threads=1), "onnxruntime", None),
    }[kind]
    report = measure_latency(target, shape, batch_sizes=[1, 7], warmup=2, repeats=10, threads=1)
    assert report.backend == backend and report.threads == 1
    assert report.input_shape == [1, 8, 8]  # read from the artifact when not given
    assert [r.batch_size for r in report.rows] == [1, 7]
    for r in report.rows:
        assert 0 < r.min_ms <= r.p50_ms <= r.p95_ms <= r.p99_ms
        assert r.throughput > 0 and r.peak_mem_mb >= 0
    d = report.to_dict()
    assert set(d["batches"]) == {"1", "7"} and d["repeats"] == 10


def test_torch_threads_are_fixed_then_restored(cnn):
    before = torch.get_num_threads()
    seen = []
    hook = cnn.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        measure_latency(cnn, (1, 8, 8), batch_sizes=[2], warmup=0, repeats=2, threads=2)
    finally:
        hook.remove()
    assert set(seen) == {2} and torch.get_num_threads() == before
    assert not cnn.training  # eval mode during the timing, the fixture's mode afterwards


def test_a_torch_module_needs_an_input_shape(cnn):
    with pytest.raises(
        InvalidSpecError, match=r"input_shape: the torch model does not record its input shape"
    ):
        measure_latency(cnn)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"repeats": 0}, r"repeats: expected an integer >= 1; got 0"),
        ({"warmup": -1}, r"warmup: expected an integer >= 0; got -1"),
        ({"threads": 0}, r"threads: expected an integer >= 1; got 0"),
        ({"batch_sizes": []}, r"batch_sizes: expected at least one batch size; got none"),
        ({"batch_sizes": [1, 0]}, r"batch_sizes: expected an integer >= 1; got 0"),
    ],
)
def test_invalid_settings_are_refused(cnn, kwargs, message):
    with pytest.raises(InvalidSpecError, match=message):
        measure_latency(cnn, (1, 8, 8), **kwargs)


def test_peak_memory_sees_native_allocations():
    with PeakMemory() as mem:
        block = torch.ones(16 * 1024 * 1024)  # 64 MiB from torch's C++ allocator
        del block
    if mem.method == "vmhwm":
        assert 60 <= mem.peak_mb < 200
    else:  # ru_maxrss is a lower bound
        assert mem.peak_mb >= 0


def test_reports_carry_their_settings(tmp_path) -> None:
    import onnxruntime as ort
    import torch
    from torch import nn

    from autoopt.evaluate import cpu_flags, measure_latency, settings_line
    from autoopt.export import export_onnx

    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)).eval()
    path = export_onnx(model, torch.zeros(2, 1, 8, 8), tmp_path / "m.onnx").path
    onnx_rep = measure_latency(path, batch_sizes=[1], repeats=3, threads=1)
    s = onnx_rep.settings
    assert s["ort_version"] == ort.__version__ and s["graph_optimization_level"] == "ORT_ENABLE_ALL"
    assert (
        s["intra_op_threads"] == 1 and s["inter_op_threads"] == 1 and s["execution_mode"] == "ORT_SEQUENTIAL"
    )
    assert s["cpu_flags"] == list(cpu_flags())
    assert onnx_rep.to_dict()["settings"] == s
    line = settings_line(s)
    assert line.startswith(f"onnxruntime {ort.__version__}, ORT_ENABLE_ALL, 1 intra-op / 1 inter-op")
    eager = measure_latency(model, (1, 8, 8), batch_sizes=[1], repeats=3, threads=1).settings
    assert eager["mode"] == "eager" and eager["intra_op_threads"] == 1 and "torch_version" in eager
    assert settings_line(eager).startswith("torch ")
