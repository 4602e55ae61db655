import pytest

from fixtures.harness.cpus import CoreBinder, bind_value, core_slices, worker_cores


def test_cores_split_into_contiguous_slices_of_near_equal_size():
    assert core_slices([0, 1], 2) == [(0,), (1,)]
    assert core_slices(list(range(5)), 2) == [(0, 1, 2), (3, 4)]
    assert core_slices([4, 5, 6, 7], 1) == [(4, 5, 6, 7)]


def test_fewer_cores_than_slices_gives_one_core_each():
    assert core_slices([3], 2) == [(3,)]
    with pytest.raises(ValueError):
        core_slices([], 2)


def test_xdist_workers_get_disjoint_shares():
    cores = list(range(8))
    assert worker_cores(cores, 0, 2) == [0, 1, 2, 3]
    assert worker_cores(cores, 1, 2) == [4, 5, 6, 7]
    assert worker_cores([0, 1], 0, 4) == [0, 1]  # fewer cores than workers: all share


def test_two_live_servers_on_two_cores_each_get_their_own():
    binder = CoreBinder([0, 1], slots=2)
    assert binder.acquire("candidate") == (0,)
    assert binder.acquire("baseline") == (1,)
    binder.release("candidate")
    assert binder.acquire("next") == (0,)  # the freed core, not one a live server holds


def test_more_servers_than_slices_share_the_least_held_slice():
    binder = CoreBinder([0, 1], slots=2)
    for owner in "abc":
        binder.acquire(owner)
    assert binder.acquire("d") == (1,)


def test_bind_value_lists_cores_as_vllm_reads_them():
    assert bind_value((0,)) == "0"
    assert bind_value((2, 3)) == "2,3"


def test_the_pool_binds_single_rank_cpu_servers_and_frees_their_cores(tmp_path, monkeypatch):
    from fixtures.harness.pool import ServerPool
    from fixtures.harness.server import ServerSpec
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    pool = ServerPool(None, None, "python", tmp_path, cores=CoreBinder([0, 1], slots=2))
    a, b = ServerSpec("/m/a", "a", "python"), ServerSpec("/m/b", "b", "python")
    assert pool._place(a, "a", 1, 1.0).spec.cpus == (0,)
    assert pool._place(b, "b", 1, 1.0).spec.cpus == (1,)
    pool._release(a)  # stopped or dead: its core is free again
    assert pool._place(ServerSpec("/m/c", "c", "python"), "c", 1, 1.0).spec.cpus == (0,)
    # Two ranks (tensor or data parallel) keep vLLM's own binding; so does a binding the profile sets.
    assert pool._place(ServerSpec("/m/d", "d", "python"), "d", 2, 1.0).spec.cpus is None
    env = (("VLLM_CPU_OMP_THREADS_BIND", "0"),)
    assert pool._place(ServerSpec("/m/e", "e", "python", env=env), "e", 1, 1.0).spec.cpus is None
