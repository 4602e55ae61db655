"""The real tasks' requests, the datasets file and mirror, and the stratified sample."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from fixtures.harness.accuracy import hub_tasks
from fixtures.harness.accuracy.chat_eval import RowError, SampleResult, TaskRun, chat_request
from fixtures.harness.accuracy.datasets import (DatasetUnavailable, HubDataset, load_datasets_file, mirror_path,
                                                split_files, stratified_sample, stratum_of)
from fixtures.harness.accuracy.tasks import vision_task, vision_tasks
from fixtures.harness.yaml_lines import ConfigError

# Requests mistral-evals' own task classes built from these rows (images named by colour).
REQUESTS = Path(__file__).parents[1] / "data" / "tasks" / "mistral_evals_requests.json"
COLOURS = {c: Image.new("RGB", (4, 4), c) for c in ("red", "blue", "green")}


def _with_images(row: dict) -> dict:
    return {k: COLOURS[v] if k.startswith("image") or k == "decoded_image" else v for k, v in row.items()}


@pytest.mark.parametrize("case", json.loads(REQUESTS.read_text()), ids=lambda c: f"{c['task']}-{c['index']}")
def test_requests_match_mistral_evals(case):
    item = hub_tasks.ADAPTERS[case["task"]][0](_with_images(case["row"]), case["index"])
    mine = [{"text": p} if isinstance(p, str) else {"image": next(k for k, v in COLOURS.items() if v is p)}
            for p in item.content]
    assert mine == case["content"]
    assert item.references == case["references"] and item.max_tokens == case["max_tokens"]
    assert chat_request("m", item)["temperature"] == case["temperature"]


def test_vqav2_hub_answer_records_become_their_texts():
    row = {"question_id": 7, "question": "Colour?", "image": COLOURS["red"],
           "answers": [{"answer": "red", "answer_confidence": "yes", "answer_id": i} for i in range(10)]}
    assert hub_tasks.vqav2_item(row, 0).references == ["red"] * 10
    row["answers"] = {"answer": ["red"] * 10, "answer_id": list(range(10))}  # the columnar form
    assert hub_tasks.vqav2_item(row, 0).references == ["red"] * 10


@pytest.mark.parametrize("adapter, row, message", [
    (hub_tasks.mathvista_item, {"pid": "1", "query": "q", "decoded_image": COLOURS["red"], "choices": ["a", "b"],
                                "answer": "c"}, "not one of the choices"),
    (hub_tasks.docvqa_item, {"questionId": 1, "question": "q", "image": None, "answers": ["a"]}, "no 'image'"),
    (hub_tasks.chartqa_item, {"question": "q", "image": "not-an-image", "answer": "1"}, "not a decoded image"),
    (hub_tasks.mmmu_item, {"id": "validation_Art_1", "question": "<image 1> q", "question_type": "open",
                           "answer": "A"}, "no 'image_1'"),
    (hub_tasks.mmmu_item, {"id": "validation_Art_1", "question": "q", "question_type": "multiple-choice",
                           "options": "[a, b", "answer": "A"}, "not a Python literal"),
    (hub_tasks.docvqa_item, {"questionId": 1, "question": "q", "image": COLOURS["red"], "answers": []},
     "reference answers"),
])
def test_malformed_rows_name_the_problem(adapter, row, message):
    with pytest.raises(hub_tasks.MalformedRow, match=message):
        adapter(row, 0)


@pytest.mark.parametrize("answer, references", [("[1, 2]", ["1", "2"]), ("[0.5, '3']", ["0.5", "3"]),
                                                ("['a', 'b']", ["a", "b"]), ("7", ["7"])])
def test_mmmu_numeric_literals_are_scored_as_numbers(answer, references):
    row = {"id": "validation_Math_1", "question": "<image 1> How many?", "question_type": "open",
           "image_1": COLOURS["red"], "answer": answer}
    item = hub_tasks.mmmu_item(row, 0)
    assert item.references == references
    from fixtures.harness.accuracy.metrics import score
    assert score("explicit_prompt_relaxed_correctness", f"So... Final Answer: {references[-1]}", item.references) == 1


def test_jpeg_images_go_out_as_jpeg_like_mistral_evals():
    import io
    buf = io.BytesIO()
    COLOURS["red"].save(buf, "JPEG")
    jpeg = Image.open(io.BytesIO(buf.getvalue()))
    item = hub_tasks.chartqa_item({"question": "q", "image": jpeg, "answer": "1"}, 0)
    url = chat_request("m", item)["messages"][0]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    item = hub_tasks.chartqa_item({"question": "q", "image": COLOURS["red"], "answer": "1"}, 0)
    assert chat_request("m", item)["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;")


def test_the_card_tasks_are_known_with_the_card_metrics():
    tasks = vision_tasks()
    assert {"vqav2", "docvqa", "chartqa", "mathvista", "mmmu"} <= set(tasks)
    assert vision_task("chartqa").metrics[0] == "anywhere_in_answer_relaxed_correctness"  # the card's ChartQA metric
    assert vision_task("mmmu").metrics[0] == "explicit_prompt_relaxed_correctness"
    with pytest.raises(KeyError, match="unknown vision task 'vqa3'"):
        vision_task("vqa3")


def test_datasets_file_errors_name_file_key_and_line(tmp_path):
    bad = tmp_path / "datasets.yaml"
    bad.write_text("schema_version: 1\nvision:\n  chartqa:\n    repo: lmms-lab/ChartQA\n    split: test\n"
                   "    revison: main\n")
    with pytest.raises(ConfigError) as exc:
        load_datasets_file(bad)
    text = str(exc.value)
    assert f"{bad}:6: vision.chartqa.revison: unknown key" in text and "vision.chartqa.revision" in text
    assert load_datasets_file().vision["mmmu"].split == "validation"


# -- stratified, seeded subsets ------------------------------------------------------------------

def test_stratified_sample_keeps_each_strata_share():
    strata = ["yes/no"] * 600 + ["number"] * 300 + ["other"] * 100
    chosen = stratified_sample(strata, 100, seed=0)
    assert len(chosen) == 100 and chosen == sorted(set(chosen))
    assert Counter(strata[i] for i in chosen) == {"yes/no": 60, "number": 30, "other": 10}


def test_stratified_sample_is_seeded_and_complete_without_limit():
    strata = [str(i % 7) for i in range(500)]
    assert stratified_sample(strata, 50, seed=3) == stratified_sample(strata, 50, seed=3)
    assert stratified_sample(strata, 50, seed=3) != stratified_sample(strata, 50, seed=4)
    assert stratified_sample(strata, None) == list(range(500)) == stratified_sample(strata, 10_000)
    small = ["a"] * 98 + ["b", "c"]  # remainders go to the largest fractions, then by name
    assert Counter(small[i] for i in stratified_sample(small, 3)) == {"a": 3}
    assert Counter(small[i] for i in stratified_sample(small, 51)) == {"a": 50, "b": 1}


def test_stratum_of_reads_subjects_and_lists():
    assert stratum_of("validation_Art_Theory_12") == "Art_Theory"
    assert stratum_of(["handwritten", "layout"]) == "handwritten"
    assert stratum_of("human_test") == "human_test"


# -- a local mirror, read by the real `datasets` library -------------------------------------------

def _mirror_with_chartqa(root: Path, rows: list[dict]) -> HubDataset:
    import datasets
    spec = HubDataset(repo="lmms-lab/ChartQA", revision="main", split="test", strata="type")
    data = mirror_path(root, spec) / "data"
    data.mkdir(parents=True)
    features = datasets.Features({"type": datasets.Value("string"), "question": datasets.Value("string"),
                                  "answer": datasets.Value("string"), "image": datasets.Image()})
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(data / "test-00000-of-00001.parquet"))
    (mirror_path(root, spec) / "MIRROR.json").write_text(json.dumps({"commit": "a" * 40}))
    return spec


def test_items_from_a_mirror_are_sampled_stratified_and_bad_rows_counted(tmp_path):
    rows = [{"type": "human_test" if i % 4 else "augmented_test", "question": f"q{i}", "answer": str(i),
             "image": COLOURS["red"]} for i in range(40)]
    rows[5]["image"] = {"bytes": b"not an image", "path": None}
    spec = _mirror_with_chartqa(tmp_path, rows)
    task = hub_tasks.HubVisionTask("chartqa", ("anywhere_in_answer_relaxed_correctness",), hub_tasks.chartqa_item,
                                   spec)
    items, copy = task.items(datasets_dir=tmp_path)
    assert copy.commit == "a" * 40 and copy.rows_from is None and len(items) == 40
    errors = [i for i in items if isinstance(i, RowError)]
    assert [e.id for e in errors] == ["chartqa-row-5"] and "row 5 of lmms-lab/ChartQA@main test" in errors[0].error
    sample, _ = task.items(limit=8, seed=1, datasets_dir=tmp_path)
    kinds = Counter(rows[int(i.id.split("-")[-1])]["type"] for i in sample if not isinstance(i, RowError))
    assert len(sample) == 8 and kinds["augmented_test"] == 2


def test_a_partial_export_is_refused_naming_the_folder(tmp_path):
    spec = HubDataset(repo="o/VQAv2", revision="refs/convert/parquet", config="default", split="validation")
    folder = mirror_path(tmp_path, spec) / "default" / "partial-validation"
    folder.mkdir(parents=True)
    (folder / "0000.parquet").write_bytes(b"")
    with pytest.raises(DatasetUnavailable, match=rf"o/VQAv2@refs/convert/parquet: {folder} is the hub's partial"):
        split_files(spec, mirror_path(tmp_path, spec))


@pytest.mark.parametrize("stored", ["record", "bytes"])
def test_images_without_feature_metadata_are_decoded(tmp_path, stored):
    """Parquet written by another tool than `datasets`: no features in the schema's metadata."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    buf = io.BytesIO()
    COLOURS["blue"].save(buf, "PNG")
    png = buf.getvalue()
    image = (pa.array([{"bytes": png, "path": None}] * 3) if stored == "record" else pa.array([png] * 3, pa.binary()))
    table = pa.table({"type": ["human_test"] * 3, "question": ["q"] * 3, "answer": ["1"] * 3, "image": image})
    assert table.schema.metadata is None
    spec = HubDataset(repo="lmms-lab-encoder/ChartQA", revision="main", split="test", strata="type")
    (mirror_path(tmp_path, spec) / "data").mkdir(parents=True)
    pq.write_table(table, mirror_path(tmp_path, spec) / "data" / "test-00000-of-00001.parquet")
    task = hub_tasks.HubVisionTask("chartqa", ("anywhere_in_answer_relaxed_correctness",), hub_tasks.chartqa_item,
                                   spec)
    items, _ = task.items(datasets_dir=tmp_path)
    assert len(items) == 3 and not [i for i in items if isinstance(i, RowError)]
    assert items[0].content[0].convert("RGB").getpixel((0, 0)) == (0, 0, 255)


def test_a_missing_mirror_names_the_path_and_the_tool(tmp_path):
    task = vision_task("mmmu")
    with pytest.raises(DatasetUnavailable, match=r"lmms-lab-encoder/MMMU/main.*tools/mirror_datasets"):
        task.items(limit=5, datasets_dir=tmp_path)


# -- how fast an eval went ------------------------------------------------------------------------

def test_throughput_compares_the_run_with_n_over_c_request_times():
    results = [SampleResult("t", str(i), "p", ["a"], seconds=2.0) for i in range(8)]
    results.append(SampleResult("t", "bad", "", [], error="row 9: malformed"))  # never asked: not a request
    figures = TaskRun(results, wall_s=4.0, concurrency=4).throughput()
    assert figures["requests"] == 8 and figures["requests_per_s"] == 2.0
    assert figures["mean_request_s"] == 2.0 and figures["concurrency_efficiency"] == 1.0


def test_mirror_tool_pins_revisions_in_place():
    from tests.tool_modules import load_tool
    pin_revisions = load_tool("mirror_datasets").pin_revisions

    from fixtures.harness.accuracy.datasets import DATASETS_FILE
    from fixtures.harness.yaml_lines import load_with_lines
    text = DATASETS_FILE.read_text()
    _, lines = load_with_lines(DATASETS_FILE)
    pinned = pin_revisions(text, lines, {"mmmu": "b" * 40, "vqav2": "c" * 40})
    changed = [(a, b) for a, b in zip(text.splitlines(), pinned.splitlines()) if a != b]
    assert len(changed) == 2 and all("revision:" in b for _, b in changed)
    assert "revision: " + "c" * 40 in pinned and pinned.count("# mistral-evals loads") == 1  # comments kept
    import yaml
    assert yaml.safe_load(pinned)["vision"]["mmmu"]["revision"] == "b" * 40


def test_limit_on_the_command_line_only_narrows_a_gate():
    from fixtures.accuracy_runs import effective_limit
    assert effective_limit(None, None) is None
    assert effective_limit(10000, None) == 10000 and effective_limit(None, 50) == 50
    assert effective_limit(10000, 50) == 50 and effective_limit(20, 50) == 20
