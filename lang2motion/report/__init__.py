"""The report stage's library: reads the evaluation's outputs and writes ``reports/report.md``,
never recomputing a number: ``paper`` (the paper's tables, the ablation rows' configurations),
``inputs`` (the evaluate stage's files), ``experiments`` (`dvc exp show` -> runs), ``tables``
(numbers and cells), ``page`` (a run's stand-ins; the page from ``templates/report.md.j2``).
"""
