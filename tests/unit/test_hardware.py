"""Whether a hardware profile can run here, over simulated GPU inventories."""
from __future__ import annotations

from pathlib import Path

from fixtures.harness.hardware import Gpu, missing_hardware
from fixtures.harness.thresholds import load_thresholds

CFG = load_thresholds(Path(__file__).parents[2] / "thresholds.yaml")


def a100s(n: int) -> list[Gpu]:
    return [Gpu(i, "NVIDIA A100-SXM4-80GB", 81920) for i in range(n)]


def test_cpu_profile_needs_no_gpu():
    assert missing_hardware("cpu", CFG.hardware["cpu"], 0, gpus=[]) is None


def test_no_gpu_names_what_is_missing():
    reason = missing_hardware("a100", CFG.hardware["a100"], 4, gpus=[])
    assert reason == "hardware profile 'a100' needs 4 x A100 GPU(s); this host has no NVIDIA GPU"


def test_too_few_matching_gpus_names_the_numbers_and_models():
    reason = missing_hardware("a100", CFG.hardware["a100"], 4, gpus=a100s(2))
    assert "needs 4 x A100 GPU(s); this host has 2 of them (GPUs seen: NVIDIA A100-SXM4-80GB)" in reason


def test_wrong_gpu_model_is_refused():
    reason = missing_hardware("h100", CFG.hardware["h100"], 2, gpus=a100s(8))
    assert "this host has 0 of them" in reason and "A100" in reason


def test_enough_matching_gpus_pass():
    assert missing_hardware("a100", CFG.hardware["a100"], 4, gpus=a100s(4)) is None


class _FakeNvml:
    """Stands in for nvidia-ml-py's module: the driver's failures are what is tested, not NVML."""

    class NVMLError(Exception):
        pass

    class NVMLError_LibraryNotFound(NVMLError):
        pass

    class NVMLError_DriverNotLoaded(NVMLError):
        def __str__(self) -> str:
            return "Driver Not Loaded"

    def __init__(self, init_error: Exception | None):
        self.init_error = init_error

    def nvmlInit(self):
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self):
        pass


def _with_nvml(monkeypatch, error_name: str | None, smi: bool = False):
    import sys
    fake = _FakeNvml(None)
    if error_name:
        fake.init_error = getattr(_FakeNvml, error_name)()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr("fixtures.harness.hardware.shutil.which", lambda name: None if not smi else "/x/nvidia-smi")


def test_no_nvml_library_is_no_gpu(monkeypatch):
    from fixtures.harness.hardware import detect_gpus
    _with_nvml(monkeypatch, "NVMLError_LibraryNotFound")
    assert detect_gpus() == []


def test_a_broken_driver_is_reported_with_its_message_not_as_no_gpu(monkeypatch):
    from fixtures.harness.hardware import GpuDetectionError, detect_gpus, kernel_signature
    _with_nvml(monkeypatch, "NVMLError_DriverNotLoaded")
    try:
        detect_gpus()
    except GpuDetectionError as exc:
        assert "NVML could not start: Driver Not Loaded" in str(exc)
    else:
        raise AssertionError("a driver that fails must not read as no GPU")
    reason = missing_hardware("a100", CFG.hardware["a100"], 4)
    assert reason.startswith("hardware profile 'a100' needs 4 x A100 GPU(s); NVML could not start: Driver Not Loaded")
    assert "Driver Not Loaded" in kernel_signature()


def test_a_cpu_without_int8_dot_products_judges_only_weights_its_kernel_sums_exactly():
    from fixtures.harness.hardware import int8_kernel_problem
    cpu = CFG.hardware["cpu"]
    epyc = "flags\t\t: fpu sse2 avx fma avx2 bmi2\n"
    wide = lambda: (127, "model.layers.0.mlp.down_proj.weight")  # noqa: E731
    assert int8_kernel_problem("cpu", cpu, "w8a8", wide, epyc) == (
        "w8a8's int8 weights reach 127 (model.layers.0.mlp.down_proj.weight); this CPU has avx2 and none of "
        "avx512_vnni, avx_vnni, amx_int8, so vLLM's W8A8 GEMM sums u8 x s8 pairs in int16 and saturates beyond "
        "+-64: hardware profile 'cpu' cannot judge it here (a CPU with one of those flags can, as can weights of "
        "7 bits)")
    assert int8_kernel_problem("cpu", cpu, "w8a8", lambda: (64, "x.weight"), epyc) is None  # 255 x 128 fits
    assert "reach 65 (x.weight)" in int8_kernel_problem("cpu", cpu, "w8a8", lambda: (65, "x.weight"), epyc)
    assert int8_kernel_problem("cpu", cpu, "bf16", lambda: (0, ""), epyc) is None

    def unread():
        raise AssertionError("a CPU with int8 dot products needs no weight read")
    assert int8_kernel_problem("cpu", cpu, "w8a8", unread, "flags\t\t: avx2 avx512f avx512_vnni\n") is None
    assert int8_kernel_problem("cpu", cpu, "w8a8", unread, "flags\t\t: avx2 avx_vnni\n") is None  # oneDNN avx2_vnni
    assert int8_kernel_problem("cpu", cpu.model_copy(update={"int8_dot_product_flags": []}), "w8a8", unread,
                               epyc) is None
    assert int8_kernel_problem("cpu", cpu, "w8a8", unread, "Features\t: fp asimd\n") is None  # not x86: not oneDNN's
