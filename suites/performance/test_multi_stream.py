"""Multi-stream performance: a load sweep per use-case profile, its maximum sustainable QPS, and QPD.

Each model takes a GuideLLM sweep (synchronous, throughput, and constant rates
between them) on its multi-stream deployment. The maximum sustainable QPS is
taken from that latency-against-load curve by the rule in
fixtures/harness/performance/decisions.py (MAX_QPS_RULE); queries per dollar and the
cost reduction follow the card's formulas. A sweep that cannot decide fails with
the reason.
"""
from __future__ import annotations

from fixtures.harness.cases import judge
from fixtures.harness.performance.costs import qpd_multi_stream
from fixtures.harness.performance.decisions import MAX_QPS_RULE, max_sustainable_qps
from fixtures.recording import record_judged, record_published, record_restarts, record_reuse


def test_multi_stream(multi_stream_case, multi_stream_run, gate_config, record_property):
    case = multi_stream_case
    record_published(record_property, case.gate(gate_config).published,
                     case.section(gate_config).published_average.get("multi_stream"))
    hw = gate_config.hardware[case.hardware]
    expected_tokens = gate_config.profiles[case.profile].output_tokens
    roles = (("candidate", case.candidate), ("baseline", case.baseline))
    runs = {}
    for role, model in roles:  # each role's sweep is kept as soon as it exists, whatever happens next
        runs[role] = multi_stream_run(case.hardware, model, case.profile)
        record_property(f"{role}_sweep", [p.as_dict() for p in runs[role].figures])
        record_reuse(record_property, role, runs[role])
    sweeps = {role: run.figures for role, run in runs.items()}
    record_restarts(runs, record_property)
    decisions = {role: max_sustainable_qps(points, hw.load, expected_tokens) for role, points in sweeps.items()}
    gpus = {role: hw.deployments[model]["multi_stream"].gpus for role, model in roles}
    for role in sweeps:
        record_property(f"{role}_excluded", decisions[role].excluded)
    record_property("gpus", gpus)
    record_property("max_qps_rule", MAX_QPS_RULE)
    for role, d in decisions.items():
        assert d.problem is None, f"{case.profile}, {role}: cannot decide: {d.problem}"
    qps = {role: d.max_qps for role, d in decisions.items()}
    qpd = {role: qpd_multi_stream(qps[role], gpus[role], hw.price.usd_per_hour) for role in qps}
    qps_ratio = qps["candidate"] / qps["baseline"]
    cost_reduction = qpd["candidate"] / qpd["baseline"]
    for name, value in (("candidate_max_qps", qps["candidate"]), ("baseline_max_qps", qps["baseline"]),
                        ("candidate_max_qps_at", decisions["candidate"].at),
                        ("baseline_max_qps_at", decisions["baseline"].at),
                        ("candidate_qpd", qpd["candidate"]), ("baseline_qpd", qpd["baseline"]),
                        ("qps_ratio", qps_ratio), ("cost_reduction", cost_reduction)):
        record_property(name, value)
    summary = (f"{case.profile}: max QPS {qps['candidate']:.3f} ({decisions['candidate'].at}) vs "
               f"{qps['baseline']:.3f} ({decisions['baseline'].at}), ratio {qps_ratio:.3f}; "
               f"QPD {qpd['candidate']:.0f} vs {qpd['baseline']:.0f} (cost reduction {cost_reduction:.3f})")
    judged = judge(case.targets(gate_config), {"qps_ratio": qps_ratio, "cost_reduction": cost_reduction})
    missed = record_judged(record_property, judged)
    assert not missed, f"{summary}: {'; '.join(missed)}"
