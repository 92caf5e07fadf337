"""Run by the DDP tests under torchrun: train on the tiny features of tests/test_train_loop.py and
write every step's global loss terms (rank 0) to the JSON file named by argv[1].

argv: OUT_JSON MODEL_DIR [streamed]. Run alone (no torchrun) it is the 1-process reference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/ for test_train_loop

from test_train_loop import PARAMS, features  # noqa: E402

from lang2motion.config import LossConfig, TrainConfig  # noqa: E402
from lang2motion.distributed import current_world, process_group  # noqa: E402
from lang2motion.loader import InMemorySplit  # noqa: E402
from lang2motion.train import train  # noqa: E402

# fp32 (the comparison is exact up to float summation order), the demo's schedule
TRAIN = TrainConfig(epochs=4, batch_size=6, lr=1e-3, seed=3, device="cpu", precision="fp32",
                    warmup_epochs=0.4, grad_clip=1.0, sampling=1.0)


def main() -> None:
    out, model_dir = Path(sys.argv[1]), Path(sys.argv[2])
    world = current_world()
    torch.set_num_threads(1)
    params = PARAMS.__class__(**{**PARAMS.__dict__, "dropout": 0.0})
    steps: list[dict] = []
    with process_group(world, torch.device("cpu")):
        train(train_split=InMemorySplit(features(23), device=torch.device("cpu"),
                                        use_overlay=params.use_overlay),
              valid_data=features(6, seed=1), model_params=params, loss=LossConfig(),
              train_cfg=TRAIN, out_dir=model_dir, live=None, extra_meta={}, world=world,
              on_step=lambda step, losses: steps.append({"step": step, **losses}))
    if world.is_main:
        out.write_text(json.dumps(steps))


if __name__ == "__main__":
    main()
