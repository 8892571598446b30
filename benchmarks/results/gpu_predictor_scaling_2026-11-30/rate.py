"""Device-run helper: training steps per second of a run, from its metrics (steps 10..end)."""

import json
import sys

with open(sys.argv[1]) as f:
    rows = [json.loads(line) for line in f]
a, b = rows[9], rows[-1]
print(f"{(b['step'] - a['step']) / max(b['seconds'] - a['seconds'], 1e-6):.2f}")
