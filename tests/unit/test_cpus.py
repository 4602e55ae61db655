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
