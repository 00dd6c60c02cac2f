"""Who speaks when, scored: diarisation and identification error rates with pyannote.metrics.

Both count seconds of reference speech: missed (no speaker said where someone
speaks), false alarm (a speaker said where nobody speaks) and confusion (the
wrong speaker), over the total reference speech. The *diarisation* error rate
(DER) first maps the hypothesis's labels to the reference's one to one so
that the overlap is largest (labels need not be names); the *identification*
error rate (IER) takes the names as they are, which is what an enrolled
voice database claims. ``collar_s`` seconds on each side of every reference
boundary are not scored (NIST's 0.25 s is the field's standard; pyannote's
``collar`` is the total width, twice this).
"""

from __future__ import annotations

from earmark.errors import ParameterError, check_number

INSTALL = "pip install pyannote.metrics"


def _annotation(rows, what: str):
    from pyannote.core import Annotation, Segment

    out = Annotation()
    for i, (start_s, end_s, label) in enumerate(rows):
        if not end_s > start_s >= 0:
            raise ParameterError(f"{what} row {i + 1}: {start_s!r}-{end_s!r} is not a stretch of time; give 0 <= start < end.")
        out[Segment(float(start_s), float(end_s)), i] = str(label)
    return out


def diarisation_errors(reference, hypothesis, *, collar_s: float = 0.25, skip_overlap: bool = False) -> dict:
    """DER and IER of ``hypothesis`` against ``reference`` (each rows of ``(start_s, end_s, speaker)``).

    Returns
    -------
    dict
        ``der``, ``ier``, and the seconds behind them: ``total`` (reference
        speech scored), ``missed``, ``false_alarm``, ``confusion`` (DER's,
        after the mapping), ``ier_confusion``.
    """
    check_number("collar_s", collar_s, low=0, high=5, unit="seconds")
    try:
        from pyannote.metrics.diarization import DiarizationErrorRate
        from pyannote.metrics.identification import IdentificationErrorRate
    except ImportError as exc:
        raise ImportError(f"{exc}; scoring who speaks when needs pyannote.metrics: {INSTALL}", name="pyannote") from None
    from pyannote.core import Segment, Timeline

    ref, hyp = _annotation(reference, "reference"), _annotation(hypothesis, "hypothesis")
    end = max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis] + [0.0])
    uem = Timeline([Segment(0.0, float(end))])  # the whole recording up to the last event is scored
    d = DiarizationErrorRate(collar=2 * collar_s, skip_overlap=skip_overlap)(ref, hyp, uem=uem, detailed=True)
    i = IdentificationErrorRate(collar=2 * collar_s, skip_overlap=skip_overlap)(ref, hyp, uem=uem, detailed=True)
    return {"der": float(d["diarization error rate"]), "ier": float(i["identification error rate"]), "total": float(d["total"]),
            "missed": float(d["missed detection"]), "false_alarm": float(d["false alarm"]), "confusion": float(d["confusion"]),
            "ier_confusion": float(i["confusion"])}
