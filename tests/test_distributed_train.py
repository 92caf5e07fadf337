"""Training under DDP (gloo, 2 processes on the CPU) against one process: the same per-step
losses, the same final weights, resumption across world sizes, one error for a failing rank."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import yaml
from safetensors.numpy import load_file

from lang2motion.model.checkpoint import STATE_META_NAME

pytestmark = pytest.mark.slow   # each case starts torchrun and two Pythons

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
WORKER = TESTS / "support" / "ddp_train_worker.py"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return {**env, **extra}


def _torchrun(nproc: int, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc-per-node={nproc}", *args], capture_output=True, text=True,
                          env=env or _env(), timeout=300)


def test_two_processes_take_the_same_steps_as_one(tmp_path: Path) -> None:
    one = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "one.json"),
                          str(tmp_path / "m1")], capture_output=True, text=True, env=_env(),
                         timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _torchrun(2, str(WORKER), str(tmp_path / "two.json"), str(tmp_path / "m2"))
    assert two.returncode == 0, two.stderr[-3000:]
    a = json.loads((tmp_path / "one.json").read_text())
    b = json.loads((tmp_path / "two.json").read_text())
    # 23 samples in batches of 6: 4 steps an epoch, the last of 5 samples split 3 + 2
    assert len(a) == len(b) == 16
    for x, y in zip(a[:20], b[:20], strict=True):
        assert x["step"] == y["step"]
        for term in ("total", "recon", "text_recon", "image", "text"):
            assert abs(x[term] - y[term]) <= 1e-5, (x["step"], term, x[term], y[term])
    wa, wb = load_file(str(tmp_path / "m1/model.safetensors")), \
        load_file(str(tmp_path / "m2/model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_allclose(_without_key_bias(key, wa[key]),
                                   _without_key_bias(key, wb[key]), atol=1e-4, err_msg=key)


def _without_key_bias(key: str, value: np.ndarray) -> np.ndarray:
    """An attention's in_proj_bias without its key part. A key bias adds the same q.b to every
    logit of a query, which softmax ignores: its true gradient is 0, so AdamW turns the float
    rounding that differs between 1 and 2 processes into steps of up to about lr each."""
    if not key.endswith("in_proj_bias"):
        return value
    third = len(value) // 3                 # [query | key | value]
    return np.concatenate([value[:third], value[2 * third:]])


# ---------------------------------------------------------------------------------------------
# The stage script under train.nproc (its own torchrun launch)

def _stage_workdir(tmp_path: Path, **train: object) -> Path:
    from test_stages_train import write_params, write_split

    write_split(tmp_path / "features" / "train", 14, seed=0)
    write_split(tmp_path / "features" / "valid_u", 4, seed=1)
    write_params(tmp_path / "params.yaml")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["train"].update({"precision": "fp32", "lr": 0.001, **train})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


STAGE = [sys.executable, str(ROOT / "pipeline" / "train.py"), "--params", "params.yaml",
         "--features", "features", "--out", "models", "--metrics", "metrics.json",
         "--live", "dvclive"]


def _stage(work: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(STAGE, cwd=work, capture_output=True, text=True, env=env or _env(),
                          timeout=300)


def _set_nproc(work: Path, nproc: int) -> None:
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["train"]["nproc"] = nproc
    (work / "params.yaml").write_text(yaml.safe_dump(params))


def _weights(work: Path) -> dict[str, np.ndarray]:
    return load_file(str(work / "models" / "model.safetensors"))


def test_killed_rank_resumes_exactly_and_on_another_world_size(tmp_path: Path) -> None:
    reference = _stage_workdir(tmp_path / "ref", epochs=6, nproc=2)
    assert _stage(reference).returncode == 0
    work = _stage_workdir(tmp_path / "run", epochs=6, nproc=2)
    launcher = subprocess.Popen(STAGE, cwd=work, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    state = work / "models" / "last" / STATE_META_NAME
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and launcher.poll() is None:
        if state.exists() and json.loads(state.read_text()).get("epoch", 0) >= 2:
            break
        time.sleep(0.1)
    assert launcher.poll() is None, "the run ended before it could be interrupted"
    ranks = [p for p in psutil.Process(launcher.pid).children(recursive=True)
             if "train.py" in " ".join(p.cmdline())]
    rank1 = [p for p in ranks if p.environ().get("RANK") == "1"]
    assert rank1, [p.cmdline() for p in ranks]
    rank1[0].send_signal(signal.SIGKILL)
    _, err = launcher.communicate(timeout=120)
    assert launcher.returncode == 2
    assert "rank 1 of 2 ended with signal 9" in err and "Traceback" not in err, err[-3000:]
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in ranks)
    other = tmp_path / "other"
    shutil.copytree(work, other)
    resumed = _stage(work)                   # the same two processes: exactly the same run
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming after epoch" in resumed.stderr
    expected = _weights(reference)
    assert all(np.array_equal(expected[k], v) for k, v in _weights(work).items())
    _set_nproc(other, 1)                     # one process: the same within float noise
    resumed = _stage(other)
    assert resumed.returncode == 0 and "resuming after epoch" in resumed.stderr
    for key, value in _weights(other).items():
        np.testing.assert_allclose(value, expected[key], atol=1e-3, err_msg=key)
    assert json.loads((other / "metrics.json").read_text())["epoch"] == 6


def test_an_error_on_rank_1_ends_both_with_one_message(tmp_path: Path) -> None:
    work = _stage_workdir(tmp_path, epochs=3, nproc=2)
    hook = tmp_path / "hook"
    hook.mkdir()
    # a fault only rank 1 sees: its third optimisation step raises the project's DataError
    (hook / "sitecustomize.py").write_text(
        "import os\n"
        "if os.environ.get('RANK') == '1':\n"
        "    import lang2motion.train as t\n"
        "    from lang2motion.errors import DataError\n"
        "    real, calls = t.train_step, []\n"
        "    def failing(*a, **k):\n"
        "        calls.append(1)\n"
        "        if len(calls) == 3:\n"
        "            raise DataError('injected: rank 1 cannot read its batch')\n"
        "        return real(*a, **k)\n"
        "    t.train_step = failing\n")
    env = _env()
    env["PYTHONPATH"] = os.pathsep.join([str(hook), env["PYTHONPATH"]])
    started = time.monotonic()
    proc = _stage(work, env=env)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in re.split(r"[\r\n]", proc.stderr) if ": error:" in line]
    assert errors == ["train (rank 1 of 2): error: injected: rank 1 cannot read its batch"], \
        proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 200      # nobody hung on a collective
    assert not (work / "metrics.json").exists()


def test_a_bad_input_is_one_message_before_any_process_starts(tmp_path: Path) -> None:
    work = _stage_workdir(tmp_path, epochs=1, nproc=2)
    for shard in (work / "features" / "valid_u").glob("*.parquet"):
        shard.write_bytes(b"not parquet")
    proc = _stage(work)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith("train: error:") \
        and "not a readable Parquet file" in errors[0], proc.stderr[-3000:]
