"""Evaluation: pure metric functions (retrieval, generation, baselines, recognition, bootstrap,
speed), the per-sample suite, tables, plots and the gallery."""
