from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from mlobs_services.sentiment.corpus import DOMAINS, LABELS, corpus_hash, generate, split

# Pinned so that a change to the corpus (and so to every model trained on it) is a deliberate one.
# After an intended change, replace them with the values corpus_hash(generate(300, domain=...)) prints.
GOLDEN_HASHES = {
    "reviews": "c45201c0be583f541bfe8cb2fca460b3d149829a659d7b313052562d4bb31e23",
    "social": "e2d9ec1a0816fd13a017cc00af41742b15ba33a54dd8cbdc41be3ab9e5b9b1c7",
}


def _texts(examples):
    return [text for text, _ in examples]


def _labels(examples):
    return [label for _, label in examples]


def _train(examples) -> Pipeline:
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(max_iter=1000))
    return model.fit(_texts(examples), _labels(examples))


def _oov_rate(model: Pipeline, vocabulary: set[str], examples) -> float:
    analyse = model[0].build_analyzer()
    tokens = [token for text in _texts(examples) for token in analyse(text) if " " not in token]
    return sum(token not in vocabulary for token in tokens) / len(tokens)


@pytest.fixture(scope="module")
def reviews_model():
    train, test = split(generate(n=2000, seed=7), test_fraction=0.2, seed=7)
    model = _train(train)
    vocabulary = {term for term in model[0].vocabulary_ if " " not in term}
    return model, vocabulary, test


def test_same_arguments_give_an_identical_corpus():
    for domain in DOMAINS:
        assert generate(500, seed=3, domain=domain) == generate(500, seed=3, domain=domain)


def test_corpus_matches_the_pinned_hashes():
    for domain, expected in GOLDEN_HASHES.items():
        assert corpus_hash(generate(300, domain=domain)) == expected, domain


def test_corpus_is_identical_in_processes_with_other_hash_seeds():
    code = ("from mlobs_services.sentiment.corpus import corpus_hash, generate\n"
            "print(corpus_hash(generate(300)), corpus_hash(generate(300, domain='social')))")
    expected = f"{corpus_hash(generate(300))} {corpus_hash(generate(300, domain='social'))}"
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True)
        assert result.stdout.strip() == expected


def test_different_seeds_give_different_corpora():
    assert corpus_hash(generate(200, seed=1)) != corpus_hash(generate(200, seed=2))


def test_corpus_hash_changes_when_one_label_changes():
    examples = generate(50)
    text, label = examples[0]
    other = next(candidate for candidate in LABELS if candidate != label)
    assert corpus_hash(examples) != corpus_hash([(text, other), *examples[1:]])


def test_generate_rejects_an_unknown_domain():
    with pytest.raises(ValueError, match="unknown domain"):
        generate(10, domain="tweets")


def test_almost_all_reviews_are_unique():
    examples = generate(4000)
    assert len(examples) == 4000
    assert len(set(_texts(examples))) / len(examples) > 0.95


def test_classes_are_roughly_balanced():
    for domain in DOMAINS:
        counts = Counter(_labels(generate(3000, domain=domain)))
        assert set(counts) == set(LABELS)
        for label in LABELS:
            assert 900 <= counts[label] <= 1100, (domain, counts)


def test_reviews_are_between_3_and_60_words_long_and_vary_in_length():
    lengths = [len(text.split()) for text in _texts(generate(4000))]
    assert min(lengths) >= 3
    assert max(lengths) <= 60
    assert sum(length >= 40 for length in lengths) > 30
    assert sum(length <= 6 for length in lengths) > 50


def test_reviews_contain_negation_intensifiers_mixed_verdicts_and_typos():
    text = " ".join(_texts(generate(4000))).lower()
    for phrase in ("not bad", "not great", "never again", " but ", "really", "extremely"):
        assert phrase in text, phrase
    words = set(re.findall(r"[a-z]+", text))
    misspelt_recommend = {word for word in words if word != "recommend" and word.startswith("r")
                          and sorted(set(word)) == sorted(set("recommend"))}
    assert len(misspelt_recommend) >= 2


def test_reviews_vary_in_casing_and_final_punctuation():
    texts = _texts(generate(4000))
    assert sum(text == text.lower() for text in texts) > 100
    assert sum(text == text.upper() for text in texts) > 40
    assert sum(text.endswith("!") for text in texts) > 100
    assert sum(text.endswith("...") for text in texts) > 40


def test_social_posts_use_slang_emojis_hashtags_and_mentions():
    text = " ".join(_texts(generate(1000, domain="social")))
    for marker in ("tbh", "ngl", "smh", "#", "@", "🔥"):
        assert marker in text, marker
    assert max(len(post.split()) for post in _texts(generate(1000, domain="social"))) <= 20


def test_split_is_stratified_and_disjoint():
    examples = generate(3000)
    train, test = split(examples, test_fraction=0.2)
    assert len(train) + len(test) == len(examples)
    assert not set(_texts(train)) & set(_texts(test))
    assert abs(len(test) / len(examples) - 0.2) < 0.01
    overall, held_out = Counter(_labels(examples)), Counter(_labels(test))
    for label in LABELS:
        assert abs(held_out[label] / len(test) - overall[label] / len(examples)) < 0.02


def test_split_is_deterministic_and_depends_on_its_seed():
    examples = generate(1000)
    assert split(examples, seed=4) == split(examples, seed=4)
    assert split(examples, seed=4)[1] != split(examples, seed=5)[1]


def test_split_rejects_a_fraction_outside_zero_and_one():
    with pytest.raises(ValueError, match="test_fraction"):
        split(generate(10), test_fraction=1.0)


def test_reviews_model_reaches_a_realistic_held_out_accuracy(reviews_model):
    model, _, test = reviews_model
    accuracy = model.score(_texts(test), _labels(test))
    assert 0.80 <= accuracy <= 0.97


def test_social_posts_lose_accuracy_against_a_reviews_model(reviews_model):
    model, _, test = reviews_model
    social = generate(1000, domain="social")
    in_domain = model.score(_texts(test), _labels(test))
    shifted = model.score(_texts(social), _labels(social))
    assert shifted < in_domain - 0.2


def test_social_posts_have_a_much_higher_oov_rate_than_reviews(reviews_model):
    model, vocabulary, test = reviews_model
    in_domain = _oov_rate(model, vocabulary, test)
    shifted = _oov_rate(model, vocabulary, generate(1000, domain="social"))
    assert in_domain < 0.05
    assert shifted > in_domain + 0.3
