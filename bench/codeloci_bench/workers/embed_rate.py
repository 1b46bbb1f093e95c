"""Embedder worker: imports `codeloci.embedder` from the source folder argv[1] (today's code or
an older commit's, extracted with `git archive`), loads `MiniLMEmbedder()` with that code's
defaults (less its memory of recent texts: every round repeats the texts), reads the texts
from argv[2] (JSON list), then for every line "go" on stdin embeds them all in calls of argv[3]
texts (the pipeline's batch) and prints the seconds taken ("go+": and the vectors)."""

import inspect
import json
import sys
import time

sys.path.insert(0, sys.argv[1])

import numpy as np
from codeloci import embedder as module

if not module.__file__ or not module.__file__.startswith(sys.argv[1]):
    raise SystemExit(f"imported {module.__file__}, not the code under {sys.argv[1]}")
# every round embeds the same texts: nothing may be remembered from the round before
fresh = {"remember": 0} if "remember" in inspect.signature(module.MiniLMEmbedder).parameters else {}
model = module.MiniLMEmbedder(**fresh)
with open(sys.argv[2], encoding="utf-8") as fh:
    texts = json.load(fh)
batch = int(sys.argv[3])
model.embed(texts[:16])
print(
    json.dumps(
        {
            "ready": True,
            "max_tokens": module.MAX_TOKENS,
            "quantized": bool(getattr(model, "quantized", False)),
        }
    ),
    flush=True,
)
for line in sys.stdin:
    if line.strip() not in ("go", "go+"):
        break
    t0 = time.perf_counter()
    vecs = np.concatenate([model.embed(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    dt = time.perf_counter() - t0
    out = {"seconds": dt, "n": len(vecs), "texts_embedded": getattr(model, "texts_embedded", None)}
    if line.strip() == "go+":
        out["vectors"] = vecs.tolist()
    print(json.dumps(out), flush=True)
