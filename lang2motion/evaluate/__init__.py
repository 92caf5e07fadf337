"""Evaluation: pure metric functions (retrieval, generation, baselines, recognition), the
per-sample suite and timings, tables with bootstrap intervals, plots and the gallery."""
