"""Who speaks when, scored with pyannote.metrics (issue 26, part 4): known answers for DER and IER."""

from __future__ import annotations

import pytest

from earmark.errors import ParameterError
from earmark.evaluation.diarisation import diarisation_errors

REF = [(0.0, 10.0, "ann"), (12.0, 20.0, "bob")]


def test_a_perfect_answer_scores_zero():
    e = diarisation_errors(REF, REF, collar_s=0.0)
    assert e["der"] == e["ier"] == 0 and e["total"] == pytest.approx(18.0)


def test_missed_speech_false_alarm_and_confusion_in_seconds():
    hyp = [(0.0, 5.0, "ann"), (12.0, 20.0, "ann"), (10.0, 11.0, "bob")]
    e = diarisation_errors(REF, hyp, collar_s=0.0)
    # mapped one to one, 'ann' in the hypothesis goes to the reference's bob (8 s) and nobody is ann: 10 s lost
    assert e["missed"] == pytest.approx(5.0) and e["false_alarm"] == pytest.approx(1.0)
    assert e["der"] == pytest.approx((e["missed"] + e["false_alarm"] + e["confusion"]) / 18.0)
    assert e["ier"] == pytest.approx((5.0 + 1.0 + 8.0) / 18.0)  # names as they are: bob's 8 s said to be ann's


def test_names_do_not_matter_to_der_but_do_to_ier():
    swapped = [(0.0, 10.0, "bob"), (12.0, 20.0, "ann")]
    e = diarisation_errors(REF, swapped, collar_s=0.0)
    assert e["der"] == 0 and e["ier"] == pytest.approx(1.0)


def test_the_collar_forgives_boundaries_within_a_quarter_second_each_side():
    shifted = [(0.2, 10.2, "ann"), (11.8, 19.8, "bob")]
    assert diarisation_errors(REF, shifted, collar_s=0.25)["der"] == 0
    assert diarisation_errors(REF, shifted, collar_s=0.0)["der"] > 0
    late = diarisation_errors(REF, [(0.3, 10.0, "ann"), (12.0, 20.0, "bob")], collar_s=0.25)
    assert late["missed"] == pytest.approx(0.05) and late["total"] == pytest.approx(18.0 - 4 * 0.25)  # 0.25 s each side


def test_a_reversed_row_is_one_clear_error():
    with pytest.raises(ParameterError, match="hypothesis row 1"):
        diarisation_errors(REF, [(5.0, 1.0, "ann")])
