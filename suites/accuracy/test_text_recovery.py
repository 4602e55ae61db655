"""Text accuracy through lm-evaluation-harness: the candidate must recover its baseline's score."""
from __future__ import annotations

from fixtures.harness.accuracy.recovery import judged_recovery, paired_recovery, pinned_recovery
from fixtures.harness.estimate import deployment_gpus
from fixtures.recording import record_judged, record_published


def test_text_recovery(text_case, text_results, gate_config, record_property):
    case, gate = text_case, text_case.gate(gate_config)
    record_published(record_property, gate.published)
    models = [case.candidate] + ([case.baseline] if gate.baseline_score is None else [])
    def keep(model, run):  # another model's eval failed: this one's figures stay in the results
        scored = run.scores
        record_property(f"measured[{model}]", {"n": len(scored), "score": sum(v for _, v in scored) / len(scored)
                                               if scored else None})
    runs = text_results.side_by_side(case.hardware, models, case.task, gate.limit, keep)
    gpus = {model: deployment_gpus(gate_config, case.hardware, model) for model in models}
    record_property("eval_throughput", {model: {**run.throughput(), "gpus": gpus[model]}
                                        for model, run in zip(models, runs)})
    scores = [dict(run.scores) for run in runs]
    candidate = scores[0]
    assert candidate, f"{case.task}: lm-eval scored no samples"
    if gate.baseline_score is None:
        baseline = scores[1]
        assert candidate.keys() == baseline.keys(), f"{case.task}: the two models were scored on different samples"
        ids = sorted(candidate)
        decision = paired_recovery([candidate[i] for i in ids], [baseline[i] for i in ids],
                                   gate.min_recovery, gate.confidence)
    else:
        decision = pinned_recovery(list(candidate.values()), gate.baseline_score, gate.min_recovery, gate.confidence)
    for key, value in decision.as_dict().items():
        record_property(key, value)
    record_judged(record_property, judged_recovery(case.targets(gate_config), decision))
    summary = (f"{case.task} ({decision.method}, n={decision.n}): candidate {decision.candidate_score:.4f}, "
               f"baseline {decision.baseline_score:.4f}, recovery {decision.recovery}, "
               f"{decision.confidence:.0%} interval [{decision.lower}, {decision.upper}]")
    assert decision.verdict == "PASS", f"{decision.verdict}: {summary}: {decision.reason}"
