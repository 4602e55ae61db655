"""GPU sets per pytest-xdist worker and server placement within a worker, over simulated inventories."""
from __future__ import annotations

import pytest

from fixtures.harness.gpus import GpuAllocator, GpuShortage, inventory, worker_gpus, worker_index


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
