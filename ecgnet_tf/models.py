"""List the pretrained models shipped with the package, with their test metrics and sizes.

    python -m ecgnet_tf.models [--json]

``--json`` prints a list of ``{"name", "task", "size_bytes", "metrics"}`` (``metrics``: the source
run's own test figures and the study's cross-validated / multi-seed figures, from the model card).
Every file's checksum is verified first; a damaged model is an error (exit 2).
"""
from __future__ import annotations

import argparse
import json
import sys

from .cli import run_command


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecgnet_tf.models", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="machine-readable list")
    a = p.parse_args(argv)

    def body() -> None:
        from .pretrained import NAMES, available

        models = available()
        rows = [{"name": m.name, "task": m.task, "size_bytes": m.size_bytes, "metrics": m.card["metrics"],
                 "int8_bytes": m.card["int8"]["size_bytes"], "int8_parity": m.card["int8"]["parity"],
                 "folder": str(m.folder)} for m in models]
        if a.json:
            print(json.dumps(rows, indent=1))
            return
        if not rows:
            print("no pretrained model is shipped in this version")
        for r in rows:
            t = r["metrics"]["test"]
            figs = ", ".join(f"{k} {t[k]:.3f}" for k in ("accuracy", "challenge_f1") if isinstance(t.get(k), float))
            print(f"{r['name']:8s} {r['task']:12s} {r['size_bytes'] / 1e6:5.2f} MB  int8 {r['int8_bytes']:,} B  "
                  f"test {figs}  ({r['folder']})")
        missing = [n for n in NAMES if n not in {r['name'] for r in rows}]
        if missing:
            print(f"not shipped: {', '.join(missing)}")

    return run_command(body)


if __name__ == "__main__":
    sys.exit(main())
