"""The embedded tasks' data: balanced answers, disjoint splits, deterministic from the seed."""
from __future__ import annotations

from collections import Counter

from fixtures.harness import synthetic
from fixtures.harness.accuracy.tasks import EMBEDDED_TASKS


def test_every_task_prefix_is_balanced_over_its_answers():
    for task in EMBEDDED_TASKS.values():
        counts = Counter((s.kind, s.answer) for s in (synthetic.make_sample(task.family, "eval", i)
                                                       for i in range(task.size)))
        per_kind = {}
        for (kind, _), n in counts.items():
            per_kind.setdefault(kind, []).append(n)
        for kind, ns in per_kind.items():
            assert len(ns) == len(synthetic.KIND_ANSWERS[kind]) and max(ns) - min(ns) <= 1, (task.name, kind, ns)


def test_samples_are_deterministic_and_splits_disjoint():
    a = synthetic.make_sample("vqa", "eval", 7)
    b = synthetic.make_sample("vqa", "eval", 7)
    assert a.image.tobytes() == b.image.tobytes() and a.answer == b.answer
    train = {synthetic.make_sample("vqa", "train", i).image.tobytes() for i in range(200)}
    held_out = [synthetic.make_sample("vqa", "eval", i).image.tobytes() for i in range(200)]
    assert not train.intersection(held_out)


def test_blank_image_keeps_the_question_and_answer():
    s = synthetic.make_sample("chart", "eval", 3)
    blank = synthetic.blank_like(s)
    assert blank.question == s.question and blank.answer == s.answer
    assert blank.image.getextrema() == ((255, 255), (255, 255), (255, 255))
