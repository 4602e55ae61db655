"""Request data for the load tests: written before the timed run, exact prompt lengths, image-only profiles."""
from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image

from fixtures.harness.performance.requests import prompt_of_tokens, request_dataset

from fixtures.harness.thresholds import UseCaseProfile
from fixtures.harness.tiny_vlm import make_tiny_vlm


WORDS = ["the", "chart", "shows", "a", "value", "of", "page", "table", "row", "image", "left", "right"]


def test_prompts_have_exactly_the_profiles_token_count(tmp_path):
    _, tokenizer, _ = make_tiny_vlm(WORDS)
    rng = random.Random(0)
    for n in (1, 64, 128):
        assert len(tokenizer.encode(prompt_of_tokens(tokenizer, n, rng), add_special_tokens=False)) == n


def test_dataset_rows_carry_distinct_images_of_the_profile_size(tmp_path):
    _, _, processor = make_tiny_vlm(WORDS)
    processor.save_pretrained(tmp_path / "tok")
    profile = UseCaseProfile(width=640, height=480, prompt_tokens=16, output_tokens=8)
    path = request_dataset("reasoning", profile, tmp_path / "data", 5, str(tmp_path / "tok"))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 5 and all(r["output_tokens_count"] == 8 and r["prompt"] for r in rows)
    images = [Image.open(r["image"]) for r in rows]
    assert all(im.size == (640, 480) for im in images)
    assert len({im.tobytes() for im in images}) == 5
    # Written once: a second call reuses the complete file.
    mtime = path.stat().st_mtime_ns
    assert request_dataset("reasoning", profile, tmp_path / "data", 5, str(tmp_path / "tok")) == path
    assert path.stat().st_mtime_ns == mtime


def test_image_only_profile_sends_no_text(tmp_path):
    profile = UseCaseProfile(width=480, height=360, prompt_tokens=0, output_tokens=128)
    path = request_dataset("captioning", profile, tmp_path, 3, "unused: no text is made")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(r) == {"image", "output_tokens_count"} for r in rows)


def test_client_overhead_leaves_out_the_loader_start_up_sample():
    from fixtures.harness.performance.guidellm import delay_after_start
    # A real single-stream run: 22 samples, one of 0.397 s (the loader starting), the rest about 1-3 ms.
    delay = {"mean": 0.021153730636445867, "max": 0.3968743960003849, "count": 22}
    assert abs(delay_after_start(delay) - (0.4653820740018091 - 0.3968743960003849) / 21) < 1e-12
    assert delay_after_start({"mean": 0.5, "max": 0.5, "count": 1}) == 0.5
    assert delay_after_start({}) is None


SWEEP = Path(__file__).parents[1] / "data" / "guidellm" / "sweep_cpu_w8a8_captioning.json"


def test_a_synchronous_benchmark_counts_only_requests_the_client_made_late():
    from fixtures.harness.performance.guidellm import parse_figures
    # A real sweep's synchronous and first constant benchmark (2 shared cores): GuideLLM's generation
    # delay was 6.1% of TTFT, yet every request was queued before the one ahead of it completed.
    sync, constant = parse_figures("image_captioning", SWEEP)
    assert sync.strategy == "synchronous" and sync.completed == 14
    assert sync.generation_delay_s / (sync.ttft_ms["mean"] / 1000) > 0.05
    assert sync.client_overhead == 0.0
    # Other strategies keep GuideLLM's generation delay.
    assert constant.strategy == "constant"
    assert constant.client_overhead == constant.generation_delay_s / (constant.ttft_ms["mean"] / 1000)


def _sync_bench(timings: list[tuple[float, float, float]]) -> dict:
    """A synchronous benchmark of requests given as (targeted start, queued, request start)."""
    return {"config": {"strategy": {"type_": "synchronous"}}, "scheduler_metrics": {"measure_start_time": 10.0},
            "requests": {"successful": [{"info": {"timings": {"targeted_start": t, "queued": q, "request_start": s}}}
                                        for t, q, s in timings]}}


def test_client_delay_is_how_late_the_client_queued_each_timed_request():
    from fixtures.harness.performance.guidellm import client_delay
    # The warm-up request (started before 10.0) is left out; one of two timed requests was queued 30 ms late.
    bench = _sync_bench([(9.0, 12.0, 9.5), (10.0, 9.9, 10.01), (11.0, 11.03, 11.04)])
    assert abs(client_delay(bench) - 0.015) < 1e-9
    assert client_delay(_sync_bench([])) is None


def test_guidellm_counts_its_warm_up_in_requests_and_prepares_few_rows_ahead(tmp_path):
    from fixtures.harness.performance.guidellm import guidellm_command
    from fixtures.harness.thresholds import LoadSettings
    profile = UseCaseProfile(width=64, height=48, prompt_tokens=0, output_tokens=8)
    cmd = guidellm_command("http://h:1", "m", "/tok", "cap", profile, "synchronous",
                           LoadSettings(warmup_requests=2, prefetch_requests=32), tmp_path / "o.json", tmp_path)
    assert json.loads(cmd[cmd.index("--profile") + 1])["warmup"] == {"value": 2, "mode": "requests"}
    assert cmd[cmd.index("--data-loader") + 1] == "kind=pytorch,prefetch_factor=32"
