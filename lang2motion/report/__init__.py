"""The report stage's library: reads the evaluation's outputs and writes ``reports/report.md``.

It never recomputes a number. :mod:`~lang2motion.report.paper` holds the paper's tables and the
configuration each ablation row stands for; :mod:`~lang2motion.report.inputs` reads the evaluate
stage's files (see docs/evaluation-outputs.md); :mod:`~lang2motion.report.experiments` finds the
runs that fill the ablation tables (the workspace, the committed baseline and ``dvc exp`` refs,
read through git alone); :mod:`~lang2motion.report.markdown` formats numbers, intervals and tables;
:mod:`~lang2motion.report.results` writes Tables 1-3, 8 and speed from one run's tables.json;
:mod:`~lang2motion.report.ablations` writes Tables 4-7 and the seed table from many runs;
:mod:`~lang2motion.report.document` assembles the whole page.
"""
