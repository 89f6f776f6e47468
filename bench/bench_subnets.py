"""Time subnets.allocate() against 10,000 taken entries: `python bench/bench_subnets.py`."""

from __future__ import annotations

import random
import time
from ipaddress import IPv4Network

from compose_cilo.network.subnets import Taken, allocate, candidates

POOL = IPv4Network("10.224.0.0/16")
ENTRIES = 10_000
ROUNDS = 20


def taken_entries(seed: int = 1) -> list[Taken]:
    """Environments on most of the pool, plus host routes and docker networks anywhere."""
    rng = random.Random(seed)
    envs = [Taken(c, f"environment p/e{i}") for i, c in enumerate(candidates(POOL)) if i < 250]
    others = []
    for i in range(ENTRIES - len(envs)):
        address = rng.getrandbits(32) & 0xFFFFFF00 | 0x0A000000  # inside 10.0.0.0/8
        prefix = rng.choice((24, 28, 32))
        network = IPv4Network((address, prefix), strict=False)
        others.append(Taken(network, f"host route {network} dev eth{i % 8}"))
    taken = envs + others
    rng.shuffle(taken)
    return taken


def main() -> None:
    taken = taken_entries()
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subnet = allocate(POOL, taken)
        best = min(best, time.perf_counter() - start)
    print(f"allocate() with {len(taken)} taken entries: {best * 1000:.2f} ms -> {subnet}")


if __name__ == "__main__":
    main()
