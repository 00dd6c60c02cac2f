"""Pure metrics (numbers from arrays, no models, no audio) that both :mod:`earmark.inference` and
:mod:`earmark.evaluation` use, so neither imports the other: speaker verification (EER, trials)."""
