"""Load figures kept between runs: reused only for the very same inputs, and saying where they come from."""
from __future__ import annotations

import json

from fixtures.harness.performance.figure_cache import FigureCache
from fixtures.harness.performance.guidellm import LoadFigures, LoadRun

INPUTS = {"hardware": "h200x2_card", "model": "pixtral-large-w8a8", "mode": "single_stream",
          "profile": "document_vqa", "weights": "pixtral-large-2411-w8a8-int8-1a2b3c", "server_args": ["--tp", "1"],
          "load": {"single_stream_requests": 10}, "versions": {"vllm": "0.26.0", "gpus": ["NVIDIA H200"]}}


def _run() -> LoadRun:
    fig = LoadFigures("document_vqa", "synchronous", None, 10, 0, 0, 54.0, {"mean": 5.4}, {"mean": 910.0},
                      {"mean": 35.0}, 0.18, 23.7, 3207.0, 128.0, 0.0, generation_delay_s=0.002)
    return LoadRun([fig], ("GuideLLM was ended: stalled",))


def test_figures_come_back_for_the_same_inputs_and_say_from_where(tmp_path):
    cache = FigureCache(tmp_path)
    path = cache.put(INPUTS, _run())
    kept = cache.get(json.loads(json.dumps(INPUTS)))
    assert kept.figures == _run().figures and kept.restarts == _run().restarts
    assert kept.reused_from.startswith(str(path)) and "measured 20" in kept.reused_from


def test_any_other_input_measures_again(tmp_path):
    cache = FigureCache(tmp_path)
    cache.put(INPUTS, _run())
    for key, value in (("versions", {"vllm": "0.27.0", "gpus": ["NVIDIA H200"]}), ("server_args", ["--tp", "2"]),
                       ("weights", "another-build"), ("load", {"single_stream_requests": 20})):
        assert cache.get({**INPUTS, key: value}) is None, key


def test_a_file_whose_inputs_were_edited_is_not_trusted(tmp_path):
    cache = FigureCache(tmp_path)
    path = cache.put(INPUTS, _run())
    doc = json.loads(path.read_text())
    doc["inputs"]["server_args"] = ["--tp", "4"]
    path.write_text(json.dumps(doc))
    assert cache.get(INPUTS) is None
