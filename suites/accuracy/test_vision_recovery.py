"""Vision accuracy: the candidate must recover its baseline's score on every gated task.

Both models answer the same rows through the chat API with mistral-evals'
instructions and metrics; recovery's interval (paired bootstrap, or
candidate-only against a pinned baseline) must clear the task's threshold.
"""
from __future__ import annotations

from fixtures.harness.accuracy.recovery import judged_recovery, paired_recovery, pinned_recovery
from fixtures.harness.accuracy.tasks import vision_task
from fixtures.harness.estimate import deployment_gpus
from fixtures.recording import record_judged, record_published


def failure_summary(results) -> tuple[int, str]:
    failed = [r for r in results if r.error]
    examples = "; ".join(f"{r.id}: {r.error}" for r in failed[:3])
    return len(failed), examples


def test_vision_recovery(vision_case, vision_results, gate_config, record_property):
    case, gate = vision_case, vision_case.gate(gate_config)
    record_published(record_property, gate.published)
    task = vision_task(case.task)
    metric = task.metrics[0]
    record_property("metric", metric)
    record_property("dataset", task.source)
    models = [case.candidate] + ([case.baseline] if gate.baseline_score is None else [])
    def keep(model, result):  # another model's eval failed: this one's figures stay in the results
        record_property(f"measured[{model}]", result[0].summary(metric))
    runs = dict(zip(models, vision_results.side_by_side(case.hardware, models, case.task, gate.limit, keep)))
    failures = {model: failure_summary(run.results) for model, (run, _) in runs.items()}
    gpus = {model: deployment_gpus(gate_config, case.hardware, model) for model in models}
    record_property("eval_throughput", {model: {**run.throughput(), "gpus": gpus[model]}
                                        for model, (run, _) in runs.items()})
    record_property("failed_samples", {model: n for model, (n, _) in failures.items()})
    origin = runs[case.candidate][1]
    if origin is not None and origin.commit:
        record_property("dataset_commit", origin.commit)
    for model, (run, _) in runs.items():
        n_failed, examples = failures[model]
        assert run.results, f"{case.task} on {model}: no samples were evaluated ({task.source})"
        assert n_failed <= gate.max_failure_rate * len(run.results), (
            f"{case.task} on {model}: {n_failed} of {len(run.results)} samples failed "
            f"(limit {gate.max_failure_rate:.0%}): {examples}")
    cand_scores = [r.scores.get(metric, 0.0) for r in runs[case.candidate][0].results]
    if gate.baseline_score is None:
        base_scores = [r.scores.get(metric, 0.0) for r in runs[case.baseline][0].results]
        decision = paired_recovery(cand_scores, base_scores, gate.min_recovery, gate.confidence)
    else:
        decision = pinned_recovery(cand_scores, gate.baseline_score, gate.min_recovery, gate.confidence)
    for key, value in decision.as_dict().items():
        record_property(key, value)
    record_judged(record_property, judged_recovery(case.targets(gate_config), decision))
    summary = (f"{case.task} ({metric}, {decision.method}, n={decision.n}): candidate {decision.candidate_score:.4f}, "
               f"baseline {decision.baseline_score:.4f}, recovery {decision.recovery}, "
               f"{decision.confidence:.0%} interval [{decision.lower}, {decision.upper}]")
    assert decision.verdict == "PASS", f"{decision.verdict}: {summary}: {decision.reason}"
