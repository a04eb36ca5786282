"""Writes guardian_scores.csv: synthetic guardian risk scores of GUI-agent actions.

Each trajectory of 5 actions runs on one platform (`app`, `os` or `device`). An action is
harmful with probability sigmoid(8 * (risk - 0.6)), where `risk` is a latent value drawn
per action, and the guardian's score is `risk` plus Gaussian noise (sd 0.1), clipped to
[0, 1]. The `device` platform is rare here (10 %), which the weighted CRC example shifts.
Deterministic: Python's `random` with seed 20251204.
"""

import csv
import math
import random

rng = random.Random(20251204)
platforms = [("app", 0.6), ("os", 0.3), ("device", 0.1)]
with open("guardian_scores.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["score", "harm", "category", "trajectory"])
    for trajectory in range(400):
        platform = rng.choices([p for p, _ in platforms], [w for _, w in platforms])[0]
        shift = 0.15 if platform == "device" else 0.0
        for _ in range(5):
            risk = min(1.0, max(0.0, rng.betavariate(2, 3) + shift))
            harm = 1 if rng.random() < 1 / (1 + math.exp(-8 * (risk - 0.6))) else 0
            score = min(1.0, max(0.0, risk + rng.gauss(0, 0.1)))
            writer.writerow([f"{score:.4f}", harm, platform, f"t{trajectory}"])
