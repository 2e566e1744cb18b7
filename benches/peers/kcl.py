"""KCL through its Python library (PyPI `kcl-lib` ships no CLI): runs
main.k once per environment, as `kcl run main.k -D env=ENV -D apps=N` does,
and writes each environment's YAML stream.

    python kcl.py DIR N OUT
"""
import os
import sys

import kcl_lib.api as kcl

src, apps, out = sys.argv[1], sys.argv[2], sys.argv[3]
api = kcl.API()
for env in ("dev", "staging", "prod"):
    args = kcl.ExecProgramArgs(
        k_filename_list=[os.path.join(src, "main.k")],
        args=[kcl.Argument(name="env", value=env), kcl.Argument(name="apps", value=apps)],
    )
    result = api.exec_program(args)
    if result.err_message:
        sys.exit(result.err_message)
    os.makedirs(os.path.join(out, env), exist_ok=True)
    with open(os.path.join(out, env, "apps.yaml"), "w") as f:
        f.write(result.yaml_result)
