"""Deployments through vLLM's Ray executor, as data: the schema, the GPUs counted, and the launch arguments."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.harness.gpus import GpuShortage
from fixtures.harness.pool import ServerPool
from fixtures.harness.ray_cluster import RayClusterError, RayLaunch, check_cluster
from fixtures.harness.thresholds import Deployment, load_thresholds
from fixtures.harness.yaml_lines import ConfigError

DATA = Path(__file__).resolve().parents[1] / "data" / "thresholds"

RAY_PROFILE = """
  h200x2:
    marker: h200x2
    gpu_name: H200
    price: {usd_per_hour: 2.25, per: gpu, source: "test", observed: 2026-06-01}
    server_env: {NCCL_NVLS_ENABLE: "0"}
    deployments:
      tiny:
        single_stream: {pipeline_parallel: 2, executor: ray}
        multi_stream: {tensor_parallel: 2, pipeline_parallel: 2, nodes: 2, executor: ray}
"""


def _cfg(tmp_path: Path, profile: str = RAY_PROFILE):
    text = (DATA / "minimal_valid.yaml").read_text().replace("\nmodels:", profile + "models:")
    path = tmp_path / "thresholds.yaml"
    path.write_text(text)
    return load_thresholds(path)


def test_gpus_count_every_kind_of_parallelism():
    d = Deployment(tensor_parallel=2, pipeline_parallel=2, data_parallel=2, nodes=2, executor="ray")
    assert (d.gpus, d.gpus_per_node) == (8, 4)


def test_a_deployment_across_nodes_needs_ray(tmp_path):
    with pytest.raises(ConfigError, match="nodes 2 needs executor: ray") as exc:
        _cfg(tmp_path, RAY_PROFILE.replace(", nodes: 2, executor: ray", ", nodes: 2"))
    assert "hardware.h200x2.deployments.tiny.multi_stream" in str(exc.value)
    with pytest.raises(ConfigError, match="nodes 3 does not divide pipeline_parallel 2"):
        _cfg(tmp_path, RAY_PROFILE.replace("nodes: 2", "nodes: 3"))
    with pytest.raises(ConfigError, match="nodes 2 does not divide pipeline_parallel 1"):  # TP across nodes
        _cfg(tmp_path, RAY_PROFILE.replace("tensor_parallel: 2, pipeline_parallel: 2", "tensor_parallel: 4"))


class _Store:  # the model store's one answer spec_for needs: where the checkpoint is
    def conforming(self, model):
        return SimpleNamespace(path=Path(f"/models/{model}"))


def test_the_launch_arguments_and_the_cluster(tmp_path):
    cfg = _cfg(tmp_path)
    local = ServerPool(cfg, _Store(), "/env/bin/python", tmp_path).spec_for("h200x2", "tiny", "single_stream")
    assert local.args == ("--pipeline-parallel-size", "2", "--distributed-executor-backend", "ray")
    assert local.ray == RayLaunch(gpus=2, nodes=1, address=None)  # a local head, with the server's GPUs
    # across nodes: only on a cluster the run is given
    with pytest.raises(GpuShortage, match="spans 2 nodes: give its Ray cluster"):
        ServerPool(cfg, _Store(), "python", tmp_path).spec_for("h200x2", "tiny", "multi_stream")
    pool = ServerPool(cfg, _Store(), "python", tmp_path, ray_address="10.0.0.1:6379")
    spanning = pool.spec_for("h200x2", "tiny", "multi_stream")
    assert spanning.args == ("--tensor-parallel-size", "2", "--pipeline-parallel-size", "2",
                             "--distributed-executor-backend", "ray")
    assert spanning.ray == RayLaunch(gpus=4, nodes=2, address="10.0.0.1:6379")
    assert dict(spanning.env) == {"NCCL_NVLS_ENABLE": "0"}


def test_the_server_names_the_cluster_and_what_its_workers_copy():
    from fixtures.harness.ray_cluster import server_env
    assert server_env("127.0.0.1:6379", {"NCCL_NVLS_ENABLE": "0", "OMP_NUM_THREADS": "4"}) == {
        "RAY_ADDRESS": "127.0.0.1:6379", "VLLM_RAY_EXTRA_ENV_VARS_TO_COPY": "NCCL_NVLS_ENABLE,OMP_NUM_THREADS"}
    assert server_env("h:1", {}) == {"RAY_ADDRESS": "h:1"}


def test_a_cluster_short_of_gpus_or_nodes_is_named():
    check_cluster({"GPU": 4.0, "nodes": 2}, RayLaunch(4, 2), "tiny", "h:1")
    with pytest.raises(RayClusterError) as exc:
        check_cluster({"GPU": 2.0, "nodes": 1}, RayLaunch(4, 2, "h:1"), "tiny", "h:1")
    assert str(exc.value) == "tiny needs 4 GPU(s) on 2 node(s); the Ray cluster at h:1 has 2 GPU(s) on 1 node(s)"
