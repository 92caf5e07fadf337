"""The body of every DVC stage, one module per stage, each with a ``run_stage(...)`` function.

``pipeline/<stage>.py`` parses its paths, loads the parameter sections the stage declares in
dvc.yaml, calls ``lang2motion.stages.<stage>.run_stage`` and prints its summary lines: the
stage's logic lives here, where tests, benchmarks and the apps reuse it.

prepare -> track -> render -> embed -> train -> evaluate -> report
"""
