from __future__ import annotations

from mlobs.drift.segments import CANDIDATES, OTHER, Segments

KEY = ("svc", "model", "v1")


def test_only_the_top_segments_by_volume_get_their_own_label():
    segments = Segments(top_n=2)
    samples = [{"segment": s} for s in ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"]] + [{"probs": [1.0]}]
    segments.count(KEY, samples)
    groups = segments.split(KEY, samples)
    assert {k: len(v) for k, v in groups.items()} == {"a": 5, "b": 4, OTHER: 4}


def test_thousands_of_segment_values_never_make_more_than_top_n_plus_other_labels_or_candidates():
    segments = Segments(top_n=3)
    labels = set()
    for i in range(5000):
        batch = [{"segment": f"client-{i}"}, {"segment": "steady"}]
        segments.count(KEY, batch)
        labels |= set(segments.split(KEY, batch))
    assert len(segments._counts[KEY]) <= CANDIDATES
    assert "steady" in labels and OTHER in labels
    assert len(segments.split(KEY, [{"segment": f"client-{i}"} for i in range(5000)])) <= 4
