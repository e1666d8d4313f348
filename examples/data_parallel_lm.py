"""Data-parallel noisy-LSTM language model over a device mesh (see
rectify_jax/experiments/data_parallel.py for the training code).

    python examples/data_parallel_lm.py --devices 8 --steps 20
"""

import argparse
import json

from rectify_jax.experiments import data_parallel

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--generator", default="jax", choices=["jax", "fast"])
    args = parser.parse_args()
    data_parallel.force_host_devices(args.devices)  # before JAX's first computation
    result = data_parallel.train(args.devices, args.steps, generator=args.generator)
    print(json.dumps(result))
