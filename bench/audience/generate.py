"""Write the benchmark CSV, shaped like a CRM export: N rows of address + 4 attributes, in no
particular order (shuffled, so consecutive rows are far apart in the address index, as in a real
export), 5 % duplicates (other case, anywhere in the file), 1 % invalid.

python -m bench.audience.generate OUT.csv [--rows 1000000] [--seed 1] [--sorted]
"""

import argparse
import csv
import random

CITIES = ["Berlin", "Paris", "Madrid", "Rome", "Vienna", "Lisbon", "Oslo", "Prague"]
PLANS = ["free", "pro", "team", "enterprise"]
FIRST = ["anna", "ben", "carla", "david", "eva", "felix", "greta", "hugo", "ines", "jonas", "kim", "lena"]
LAST = ["meyer", "schmidt", "dupont", "garcia", "rossi", "novak", "silva", "berg", "costa", "weber"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com", "corp.example.de", "example.co.uk"]


def _address(n: int, rnd: random.Random) -> str:
    return f"{rnd.choice(FIRST)}.{rnd.choice(LAST)}{n}@{rnd.choice(DOMAINS)}"


def generate(path: str, rows: int, seed: int = 1, shuffled: bool = True) -> dict[str, int]:
    rnd = random.Random(seed)
    counts = {"rows": rows, "duplicates": 0, "invalid": 0}
    emails: list[str] = []
    unique: list[str] = []
    for i in range(rows):
        roll = rnd.random()
        if roll < 0.01:
            email = f"user{i}@@example.com"  # invalid
            counts["invalid"] += 1
        elif roll < 0.06 and unique:
            # a duplicate of another row, in other case; with the file shuffled it may come first
            local, _, domain = rnd.choice(unique).partition("@")
            email = f"{local.capitalize()}@{domain.upper()}"
            counts["duplicates"] += 1
        else:
            email = _address(len(unique), rnd)
            unique.append(email)
        emails.append(email)
    if shuffled:
        rnd.shuffle(emails)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "first_name", "last_name", "city", "plan"])
        for i, email in enumerate(emails):
            w.writerow([email, f"First{i}", f"Last{i}", rnd.choice(CITIES), rnd.choice(PLANS)])
    counts["unique"] = len(unique)
    return counts


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sorted", action="store_true", help="addresses in the order they were made (not like an export)")
    a = p.parse_args()
    print(generate(a.out, a.rows, a.seed, shuffled=not a.sorted))
