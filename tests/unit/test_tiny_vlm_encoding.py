"""The trainer feeds the model exactly what a server run sends: chat template + Pixtral processor."""
from __future__ import annotations

import torch

from fixtures.harness import synthetic
from fixtures.harness.tiny_vlm import TinyVlmSize, make_tiny_vlm
from fixtures.harness.tiny_vlm_train import (EMBEDDED_SIZE, FAMILY_PROMPT, corpus_texts, encode, pixel_tensor,
                                             user_text)


def test_training_encoding_equals_the_processor_and_chat_template():
    size = TinyVlmSize(text_hidden=64, text_layers=1, text_heads=2, text_kv_heads=2, text_intermediate=64,
                       vision_hidden=64, vision_layers=1, vision_heads=2, vision_intermediate=64,
                       patch_size=EMBEDDED_SIZE.patch_size, longest_edge=EMBEDDED_SIZE.longest_edge, vocab_size=600)
    _, tok, proc = make_tiny_vlm(synthetic.answer_words(), size, 0, corpus_texts(), whole=list(FAMILY_PROMPT.values()))
    for family in synthetic.FAMILY_KINDS:
        s = synthetic.make_sample(family, "eval", 1)
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": user_text(s)}]}]
        enc = proc(text=proc.apply_chat_template(messages, tokenize=False), images=[s.image], return_tensors="pt")
        ids, _ = encode(tok, s, size.patch_size, with_answer=False)
        assert enc["input_ids"][0].tolist() == ids
        assert torch.allclose(enc["pixel_values"][0].float(), pixel_tensor(s.image), atol=1e-4)
    # The task's instruction is one token: a tiny model reads 150 words at the cost of one.
    assert len(tok.encode(FAMILY_PROMPT["chart"], add_special_tokens=False)) == 1


def test_card_profiles_give_pixtral_ordered_image_token_counts():
    from PIL import Image
    _, tok, proc = make_tiny_vlm(synthetic.answer_words(), EMBEDDED_SIZE, 0, corpus_texts())
    counts = {}
    for name, (w, h) in {"document_vqa": (1680, 2240), "visual_reasoning": (640, 480),
                         "image_captioning": (480, 360)}.items():
        ids = proc(text="[INST][IMG][/INST]", images=[Image.new("RGB", (w, h))], return_tensors="pt")["input_ids"][0]
        image_ids = {tok.convert_tokens_to_ids(t) for t in ("[IMG]", "[IMG_BREAK]", "[IMG_END]")}
        counts[name] = sum(int(i) in image_ids for i in ids)
    assert counts == {"document_vqa": 1776, "visual_reasoning": 1230, "image_captioning": 713}
