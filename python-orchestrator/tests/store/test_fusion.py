"""Score fusion of the dense and lexical candidate lists (the fusion of queries in words)."""

from __future__ import annotations

from codeloci.store.fusion import score_fusion


def ids(ranked: list[tuple[str, float]]) -> list[str]:
    return [i for i, _ in ranked]


def test_a_candidate_both_channels_rank_high_comes_first() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.1)]
    lexical = [("b", 12.0), ("d", 11.0), ("a", 1.0)]
    assert ids(score_fusion(dense, lexical, (1.0, 1.0), 10))[0] == "b"


def test_a_channel_far_ahead_wins_over_middling_agreement() -> None:
    # "x" is far ahead in the dense channel and absent from the lexical one; "m" is middling in
    # both. Rank fusion would put "m" first (it is ranked in both); score fusion keeps the gap.
    dense = [("x", 0.95), ("m", 0.40), ("p", 0.38), ("q", 0.37), ("r", 0.36)]
    lexical = [("s", 9.0), ("m", 8.8), ("t", 8.7), ("u", 8.6), ("v", 8.5)]
    fused = ids(score_fusion(dense, lexical, (1.0, 1.0), 10))
    assert fused.index("x") < fused.index("m")


def test_missing_from_a_channel_counts_as_that_channels_lowest_not_zero() -> None:
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    lexical = [("c", 3.0), ("b", 2.0), ("a", 1.0), ("z", 0.5)]
    scores = dict(score_fusion(dense, lexical, (1.0, 1.0), 10))
    # "z" has the lowest lexical z-score and gets the lowest dense one (that of "c")
    assert min(scores, key=lambda k: scores[k]) == "z"


def test_an_empty_channel_leaves_the_other_channels_order() -> None:
    lexical = [("a", 5.0), ("b", 4.0), ("c", 1.0)]
    assert ids(score_fusion([], lexical, (1.0, 1.0), 10)) == ["a", "b", "c"]
    assert ids(score_fusion(lexical, [], (1.0, 1.0), 10)) == ["a", "b", "c"]


def test_equal_scores_do_not_divide_by_zero_and_keep_their_order() -> None:
    flat = [("a", 1.0), ("b", 1.0), ("c", 1.0)]
    assert ids(score_fusion(flat, flat, (1.0, 1.0), 10)) == ["a", "b", "c"]


def test_weights_and_limit() -> None:
    dense = [("d", 0.9), ("l", 0.1)]
    lexical = [("l", 9.0), ("d", 1.0)]
    assert ids(score_fusion(dense, lexical, (2.0, 1.0), 10))[0] == "d"
    assert ids(score_fusion(dense, lexical, (1.0, 2.0), 10))[0] == "l"
    assert len(score_fusion(dense, lexical, (1.0, 1.0), 1)) == 1


def test_a_candidate_without_a_dense_vector_keeps_its_lexical_place() -> None:
    # While embedding runs, "u" (the best lexical match) has no dense vector yet: it is not
    # a weak dense match, so it is not pushed below the embedded chunks the dense channel found.
    dense = [("e1", 0.9), ("e2", 0.85), ("e3", 0.8), ("e4", 0.2)]
    lexical = [("u", 6.0), ("e1", 5.0), ("e2", 4.8), ("v", 2.0), ("w", 1.0)]
    assert ids(score_fusion(dense, lexical, (1.0, 1.0), 10))[0] != "u"
    waiting = frozenset({"u", "v", "w"})
    fused = ids(score_fusion(dense, lexical, (1.0, 1.0), 10, waiting))
    assert fused[0] == "u"
    assert fused.index("v") < fused.index("w")  # the not yet embedded ones in lexical order
    # once everything has its vector, nothing changes
    assert score_fusion(dense, lexical, (1.0, 1.0), 10, frozenset()) == score_fusion(
        dense, lexical, (1.0, 1.0), 10
    )
