from mlobs.investigate.model import Finding
from mlobs.investigate.rank import rank


def _finding(key, score):
    f = Finding(key)
    f.add(key, "q", score)
    return f


def test_drifting_inputs_that_made_the_model_unsure_lead_the_output_shift():
    ranked = rank([_finding("output_shift", 1.0), _finding("input_drift", 1.0)],
                  {"class_tvd": 0.15, "confidence_drop": 0.07})
    assert [f.key for f in ranked] == ["input_drift", "output_shift"]
    assert ranked[1].score < 1.0


def test_drifting_inputs_lead_the_output_shift_they_caused_even_when_the_shift_scores_higher():
    ranked = rank([_finding("output_shift", 0.94), _finding("input_drift", 0.62)],
                  {"class_tvd": 0.14, "confidence_drop": 0.042})
    assert [f.key for f in ranked] == ["input_drift", "output_shift"]


def test_a_class_mix_shift_with_steady_confidence_leads_the_input_detectors_that_echo_it():
    ranked = rank([_finding("input_drift", 1.0), _finding("output_shift", 1.0)],
                  {"class_tvd": 0.3, "confidence_drop": 0.0})
    assert [f.key for f in ranked] == ["output_shift", "input_drift"]


def test_a_new_version_leads_the_output_shift_and_slowdown_it_explains():
    ranked = rank([_finding("serving", 0.9), _finding("output_shift", 1.0), _finding("model_version", 1.0)], {})
    assert ranked[0].key == "model_version"


def test_on_equal_scores_the_hypothesis_tested_first_comes_first():
    ranked = rank([_finding("serving", 0.6), _finding("pipeline", 0.6)], {})
    assert ranked[0].key == "pipeline"
