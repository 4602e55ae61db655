"""Single-stream performance: candidate against baseline, side by side in this run, per use-case profile.

Each model answers the profile's requests one at a time (GuideLLM `synchronous`)
on its single-stream deployment. The figures must be trustworthy (no errors,
enough requests, client overhead within the profile's limit) before any
target is judged; a run that cannot decide fails with the reason.
"""
from __future__ import annotations

from fixtures.harness.cases import judge
from fixtures.harness.performance.costs import qpd_single_stream
from fixtures.harness.performance.decisions import quality_problems
from fixtures.recording import record_judged, record_published, record_restarts, record_reuse


def test_single_stream(single_stream_case, single_stream_run, gate_config, record_property):
    case = single_stream_case
    record_published(record_property, case.gate(gate_config).published,
                     case.section(gate_config).published_average.get("single_stream"))
    hw = gate_config.hardware[case.hardware]
    expected_tokens = gate_config.profiles[case.profile].output_tokens
    roles = (("candidate", case.candidate), ("baseline", case.baseline))
    runs = {}
    for role, model in roles:  # each role's figures are kept as soon as they exist, whatever happens next
        runs[role] = single_stream_run(case.hardware, model, case.profile)
        record_property(f"{role}_figures", runs[role].figures[0].as_dict())
        record_reuse(record_property, role, runs[role])
    figures = {role: run.figures[0] for role, run in runs.items()}
    gpus = {role: hw.deployments[model]["single_stream"].gpus for role, model in roles}
    record_restarts(runs, record_property)
    record_property("gpus", gpus)
    for role, fig in figures.items():
        problems = quality_problems(fig, hw.load, expected_tokens)
        assert not problems, f"{case.profile}, {role}: cannot decide: {'; '.join(problems)}"
    cand, base = figures["candidate"], figures["baseline"]
    qpd = {role: qpd_single_stream(fig.latency_s["mean"], gpus[role], hw.price.usd_per_hour)
           for role, fig in figures.items()}
    latency_ratio = cand.latency_s["mean"] / base.latency_s["mean"]
    cost_reduction = qpd["candidate"] / qpd["baseline"]
    for name, value in (("latency_ratio", latency_ratio), ("cost_reduction", cost_reduction),
                        ("candidate_qpd", qpd["candidate"]), ("baseline_qpd", qpd["baseline"])):
        record_property(name, value)
    summary = (f"{case.profile}: latency {cand.latency_s['mean']:.3f} s vs {base.latency_s['mean']:.3f} s "
               f"(ratio {latency_ratio:.3f}), QPD {qpd['candidate']:.0f} vs {qpd['baseline']:.0f} "
               f"(cost reduction {cost_reduction:.3f}), client overhead {cand.client_overhead:.2%}/{base.client_overhead:.2%}")
    judged = judge(case.targets(gate_config), {"latency_ratio": latency_ratio, "cost_reduction": cost_reduction})
    missed = record_judged(record_property, judged)
    assert not missed, f"{summary}: {'; '.join(missed)}"
