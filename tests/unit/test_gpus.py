"""GPU sets per pytest-xdist worker and server placement within a worker, over simulated inventories."""
from __future__ import annotations

import pytest

from fixtures.harness.gpus import (GpuAllocator, GpuShortage, busy_gpus, inventory, tensor_parallel_problem,
                                   worker_gpus, worker_index)
from fixtures.harness.hardware import Gpu


@pytest.mark.parametrize("n_gpus", [1, 2, 4, 8])
@pytest.mark.parametrize("largest", [1, 2, 4])
@pytest.mark.parametrize("n_workers", [1, 2, 4, 8])
def test_workers_get_disjoint_sets_that_hold_the_largest_deployment(n_gpus, largest, n_workers):
    gpus = list(range(n_gpus))
    if n_gpus // n_workers < largest:
        with pytest.raises(GpuShortage, match=f"{n_gpus} GPU"):
            worker_gpus(gpus, 0, n_workers, largest)
        return
    sets = [worker_gpus(gpus, w, n_workers, largest) for w in range(n_workers)]
    assert all(len(s) >= largest for s in sets)
    flat = [g for s in sets for g in s]
    assert len(flat) == len(set(flat))  # disjoint
    assert set(flat) <= set(gpus)


def test_shortage_names_the_numbers():
    with pytest.raises(GpuShortage) as exc:
        worker_gpus([0, 1, 2, 3], 0, 4, 2)
    assert str(exc.value) == ("4 worker(s) on 4 GPU(s) hold 1 GPU(s) each; the largest deployment needs 2: "
                              "run with at most 2 worker(s)")
    with pytest.raises(GpuShortage, match="the largest deployment needs 4 GPU\\(s\\); this host has 2 GPU"):
        worker_gpus([0, 1], 0, 1, 4)


def test_worker_index():
    assert [worker_index(w) for w in (None, "main", "gw0", "gw7")] == [0, 0, 0, 7]


def test_card_deployments_on_one_worker_of_four_gpus():
    # Pixtral-Large on A100x4: baseline TP4 alone, then the W8A8 at TP2 on two of them.
    alloc = GpuAllocator([0, 1, 2, 3])
    base = alloc.acquire(4, 0.9, "bf16 TP4")
    assert base == (0, 1, 2, 3)
    with pytest.raises(GpuShortage, match="needs 2 GPU\\(s\\) with 0.90 of their memory free; this worker has 0"):
        alloc.acquire(2, 0.9, "w8a8 TP2")
    alloc.release(base, 0.9)
    assert alloc.acquire(2, 0.9, "w8a8 TP2") == (0, 1)
    assert alloc.acquire(2, 0.9, "w4a16 TP2") == (2, 3)


def test_small_servers_share_a_gpu_by_memory_share():
    alloc = GpuAllocator([0, 1])
    assert alloc.acquire(2, 0.4, "bf16 TP2") == (0, 1)
    assert alloc.acquire(1, 0.4, "w8a8 TP1") == (0,)
    assert alloc.acquire(1, 0.15, "third") == (0,)  # fullest GPU that still fits
    with pytest.raises(GpuShortage, match="GPU 0: 0.05 free, GPU 1: 0.60 free"):
        alloc.acquire(2, 0.5, "fourth")


def test_more_gpus_than_the_worker_holds():
    with pytest.raises(GpuShortage, match="needs 4 GPU\\(s\\); this worker holds 2 \\(\\[2, 3\\]\\)"):
        GpuAllocator([2, 3]).acquire(4, 0.9, "bf16 TP4")


def test_inventory_respects_cuda_visible_devices():
    assert inventory([0, 1, 2, 3], None) == [0, 1, 2, 3]
    assert inventory([0, 1, 2, 3], "2,3") == [2, 3]
    with pytest.raises(GpuShortage, match="numeric GPU index"):
        inventory([0, 1], "GPU-abc")


# Pixtral-Large's shapes (text: 96 heads, 8 key/value heads; vision: 16 heads) and the tiny VLM's (4 and 4).
PIXTRAL_LARGE = {"text_config": {"num_attention_heads": 96, "num_key_value_heads": 8},
                 "vision_config": {"num_attention_heads": 16}}
TINY_VLM = {"text_config": {"num_attention_heads": 4, "num_key_value_heads": 4},
            "vision_config": {"num_attention_heads": 4}}


@pytest.mark.parametrize("config, tp, problem", [
    (PIXTRAL_LARGE, 1, None), (PIXTRAL_LARGE, 2, None), (PIXTRAL_LARGE, 4, None), (PIXTRAL_LARGE, 8, None),
    (PIXTRAL_LARGE, 16, None),  # 8 key/value heads, each held by two GPUs
    (PIXTRAL_LARGE, 64, "tensor_parallel 64 does not divide the text tower's 96 attention heads"),
    (PIXTRAL_LARGE, 32, "tensor_parallel 32 does not divide the vision tower's 16 attention heads"),
    (PIXTRAL_LARGE, 3, "tensor_parallel 3 neither divides nor is a multiple of the text tower's 8 key/value heads"),
    (TINY_VLM, 2, None), (TINY_VLM, 4, None),
    (TINY_VLM, 8, "tensor_parallel 8 does not divide the text tower's 4 attention heads"),
    ({"num_attention_heads": 12, "num_key_value_heads": 6}, 4,
     "tensor_parallel 4 neither divides nor is a multiple of the text tower's 6 key/value heads"),
    ({"num_attention_heads": 32, "num_key_value_heads": 2}, 8, None),  # key/value heads replicated
    ({}, 4, None),  # no config to read: vLLM decides
])
def test_tensor_parallel_split_is_checked_before_a_server_starts(config, tp, problem):
    assert tensor_parallel_problem(config, tp) == problem


def test_a_busy_gpu_is_named_with_its_free_memory():
    gpus = [Gpu(0, "NVIDIA H200", 143771, 100000), Gpu(1, "NVIDIA H200", 143771, 143000),
            Gpu(2, "NVIDIA H200", 143771, 0)]  # another worker's GPU: not placed, not checked
    assert busy_gpus((0, 1), 0.3, gpus, "h200-single_stream-m") is None
    message = busy_gpus((0, 1), 0.9, gpus, "h200-single_stream-m")
    assert message == ("h200-single_stream-m needs 0.90 of each GPU's memory (129394 MiB on GPU 0); "
                       "GPU 0: 100000 MiB free of 143771: the GPU is busy")
