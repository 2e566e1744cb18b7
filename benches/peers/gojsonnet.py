"""go-jsonnet through its Python binding (PyPI `gojsonnet` ships no CLI):
evaluates main.jsonnet like `jsonnet -S -m OUT --tla-code apps=N` and writes
each file.

    python gojsonnet.py DIR N OUT
"""
import json
import os
import sys

import _gojsonnet

src, apps, out = sys.argv[1], sys.argv[2], sys.argv[3]
files = json.loads(_gojsonnet.evaluate_file(os.path.join(src, "main.jsonnet"), tla_codes={"apps": apps}))
for name, text in files.items():
    path = os.path.join(out, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
