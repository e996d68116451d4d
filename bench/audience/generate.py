"""Write the benchmark CSV: N rows of address + 4 attributes, 5 % duplicates, 1 % invalid.

python -m bench.audience.generate OUT.csv [--rows 1000000] [--seed 1]
"""

import argparse
import csv
import random

CITIES = ["Berlin", "Paris", "Madrid", "Rome", "Vienna", "Lisbon", "Oslo", "Prague"]
PLANS = ["free", "pro", "team", "enterprise"]


def generate(path: str, rows: int, seed: int = 1) -> dict[str, int]:
    rnd = random.Random(seed)
    counts = {"rows": rows, "duplicates": 0, "invalid": 0}
    unique = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "first_name", "last_name", "city", "plan"])
        for i in range(rows):
            roll = rnd.random()
            if roll < 0.01:
                email = f"user{i}@@example.com"  # invalid
                counts["invalid"] += 1
            elif roll < 0.06 and unique:
                email = f"User{rnd.randrange(unique)}@Example.com"  # duplicate of an earlier row, other case
                counts["duplicates"] += 1
            else:
                email = f"user{unique}@example.com"
                unique += 1
            w.writerow([email, f"First{i}", f"Last{i}", rnd.choice(CITIES), rnd.choice(PLANS)])
    counts["unique"] = unique
    return counts


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    print(generate(a.out, a.rows, a.seed))
