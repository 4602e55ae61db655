"""Conformance: each model of a gate is the checkpoint its scheme says, before any server serves it.

Its quantization_config and its stored tensors (safetensors headers, no weights
loaded) must agree with the scheme: for W8A8, INT8 weights with one scale per
output channel, INT8 activations per token at run time, and the ignore list's
modules (LM head, vision tower, projector) left unquantized. Accuracy alone
cannot tell a W4A16 or an over-quantized W8A8 from the real one on a small model;
a label nobody checks would let them ship. The server pool refuses such a
checkpoint too, so the other checks of its gate fail with the same reason.
"""
from __future__ import annotations

import pytest

from fixtures.harness.models import BuildFailed, ModelUnavailable


def test_checkpoint_matches_its_scheme(checked_model, model_store, hardware_here, record_property):
    hardware_here(checked_model.hardware, checked_model.model, served=False)  # had where its gate runs
    problem = None
    try:
        checked = model_store.conformance(checked_model.model)
    except (ModelUnavailable, BuildFailed) as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)  # outside the except: the reason is reported once
    record_property("conformance", checked.as_dict())
    assert not checked.problems, checked.message
