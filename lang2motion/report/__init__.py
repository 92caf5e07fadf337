"""The report stage's library: reads the evaluation's outputs and writes ``reports/report.md``.

It never recomputes a number. :mod:`~lang2motion.report.paper` holds the paper's tables and the
configuration each ablation row stands for; :mod:`~lang2motion.report.inputs` reads the evaluate
stage's files (see docs/evaluation-outputs.md) and reports/experiments.json;
:mod:`~lang2motion.report.experiments` turns `dvc exp show` into the runs that fill the ablation
tables; :mod:`~lang2motion.report.tables` formats numbers and fills every table's cells;
:mod:`~lang2motion.report.page` says what a run really is (its stand-ins) and renders the page
from the template ``templates/report.md.j2``, which holds every sentence.
"""
