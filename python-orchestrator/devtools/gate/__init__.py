"""The retrieval gate's training side (see ``README.md`` here).

``python -m devtools.gate.dataset`` regenerates ``gate_dataset.jsonl``;
``python -m devtools.gate.train`` rebuilds the shipped model
``codeloci/gate/data/gate_model.json`` (both byte-identical on every run; ``just train-gate``
runs the two);
``python -m devtools.gate.evaluate [--json PATH]`` reports metrics and latency.
"""
