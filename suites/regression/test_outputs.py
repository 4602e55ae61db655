"""Regression: greedy outputs pinned per model and hardware profile, and candidate-baseline agreement."""
from __future__ import annotations

from fixtures.harness.regression import first_difference, token_agreement
from fixtures.snapshots import pinned_extension


def test_greedy_outputs_match_their_pins(pinned_model, pinned_outputs, snapshot):
    outputs = pinned_outputs(pinned_model.hardware, pinned_model.model)
    assert outputs, "no pinned prompt was answered"
    assert outputs == snapshot(extension_class=pinned_extension(pinned_model.hardware, pinned_model.model))


def test_candidate_agrees_with_baseline(regression_case, pinned_outputs, model_store, record_property):
    from transformers import AutoTokenizer  # imported here: collection stays fast

    case = regression_case
    threshold = case.gate.regression.min_token_agreement
    cand = pinned_outputs(case.hardware, case.candidate)
    base = pinned_outputs(case.hardware, case.baseline)
    tokenizer = AutoTokenizer.from_pretrained(model_store.resolve(case.baseline).path)
    rates, first_diffs = {}, []
    for pid in base:
        a = tokenizer.encode(cand[pid]["text"], add_special_tokens=False)
        b = tokenizer.encode(base[pid]["text"], add_special_tokens=False)
        rates[pid] = token_agreement(a, b)
        at = first_difference([str(t) for t in a], [str(t) for t in b])
        if at is not None:
            first_diffs.append(f"{pid}: first differing token #{at}: candidate {cand[pid]['text']!r} "
                               f"vs baseline {base[pid]['text']!r}")
    agreement = sum(rates.values()) / len(rates)
    record_property("token_agreement", agreement)
    record_property("per_prompt", rates)
    assert agreement >= threshold, (f"token agreement {agreement:.3f} below {threshold}:\n" + "\n".join(first_diffs))
