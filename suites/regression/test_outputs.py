"""Regression: greedy outputs pinned per model and hardware profile, and candidate-baseline agreement."""
from __future__ import annotations

from fixtures.harness.cases import judge
from fixtures.harness.regression import PIN_RULE, outputs_agreement, pin_mismatch
from fixtures.snapshots import pinned_extension, read_pins
from fixtures.recording import record_judged


def test_greedy_outputs_match_their_pins(pinned_model, pinned_outputs, pin_subject, model_store, snapshot,
                                         gate_config, record_property):
    from transformers import AutoTokenizer  # imported here: collection stays fast

    hardware, model = pinned_model.hardware, pinned_model.model
    outputs = pinned_outputs(hardware, model)
    assert outputs, "no pinned prompt was answered"
    subject = pin_subject(hardware, model)
    pinned_snapshot = snapshot.use_extension(pinned_extension(hardware, model))
    pins = read_pins(pinned_snapshot)
    record_property("weights_digest", subject.digest)
    record_property("served_on", subject.served_on)
    current = {"weights_digest": subject.digest, "served_on": subject.served_on, "outputs": outputs}
    if pins is not None:
        tokenizer = AutoTokenizer.from_pretrained(model_store.resolve(model).path)
        agreement, _, diffs = outputs_agreement(outputs, pins["outputs"],
                                                lambda text: tokenizer.encode(text, add_special_tokens=False))
        record_property("pinned_for", {k: pins.get(k) for k in ("weights_digest", "served_on")})
        record_property("pin_agreement", agreement)
        exact = pins.get("weights_digest") == subject.digest and pins.get("served_on") == subject.served_on
        if not exact and not pinned_snapshot.update_snapshots:
            if subject.built_here or pins.get("weights_digest") == subject.digest:  # judged by agreement
                record_judged(record_property, judge(pinned_model.targets(gate_config), {"pin_agreement": agreement}))
            problem = pin_mismatch(model, pins, subject.digest, subject.served_on, subject.built_here,
                                   subject.min_pin_agreement, agreement)
            assert problem is None, problem + "\n" + "\n".join(diffs) + f"\n(the rule: {PIN_RULE})"
            return
    assert current == pinned_snapshot


def test_candidate_agrees_with_baseline(regression_case, pinned_outputs, model_store, gate_config, record_property):
    from transformers import AutoTokenizer  # imported here: collection stays fast

    case = regression_case
    cand = pinned_outputs(case.hardware, case.candidate)
    base = pinned_outputs(case.hardware, case.baseline)
    tokenizer = AutoTokenizer.from_pretrained(model_store.resolve(case.baseline).path)
    agreement, rates, first_diffs = outputs_agreement(
        cand, base, lambda text: tokenizer.encode(text, add_special_tokens=False), ("candidate", "baseline"))
    record_property("token_agreement", agreement)
    record_property("per_prompt", rates)
    missed = record_judged(record_property, judge(case.targets(gate_config), {"token_agreement": agreement}))
    assert not missed, "; ".join(missed) + ":\n" + "\n".join(first_diffs)
