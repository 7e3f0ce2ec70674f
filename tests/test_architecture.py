"""The package's layering holds: imports only go down, and no library module imports a command module.

Layers, bottom to top: settings/claims/synthetic -> data -> preprocess, signal_quality -> model -> tasks -> runs ->
training, export, interpret, monitor, bench -> commands. A command module is one with a top-level
``main()`` (run as ``python -m``); anything may import the library, nothing in the library may import
a command. Imports inside functions count too.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "ecgnet_tf"
REPO = PKG.parent

LAYER = {"settings": 0, "progress": 0, "quiet": 0, "atomic": 0, "claims": 0, "synthetic": 0, "cli": 1, "data": 1, "preprocess": 2, "model": 3, "tasks": 4,
         "runs": 5, "scoring": 2, "signal_quality": 2, "pretrained": 2, "samples": 1, "training": 6, "export": 6, "interpret": 6, "monitor": 6, "bench": 6, "results_report": 6}
TOP = 7  # command modules at the package root (train, evaluate, explain, ...)


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODULES = _modules()


def _is_command(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)


def _imports(name: str, path: Path) -> set[str]:
    """ecgnet_tf modules imported anywhere in ``path`` (resolved to the deepest module that exists)."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" for a in node.names] + [mod]
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t and t != "ecgnet_tf" and t != name:
                found.add(t)
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    return LAYER.get(parts[1], TOP)


COMMANDS = {m for m, p in MODULES.items() if _is_command(p)}


def test_the_checker_sees_the_package():
    assert {"ecgnet_tf.train", "ecgnet_tf.evaluate", "ecgnet_tf.export.quantize", "ecgnet_tf.analyze"} <= COMMANDS
    assert "ecgnet_tf.runs.spec" in MODULES and "ecgnet_tf.tasks.inputs" in MODULES
    # the resolver finds relative and absolute imports, inside functions too
    assert "ecgnet_tf.tasks.inputs" in _imports("ecgnet_tf.tasks.windows", MODULES["ecgnet_tf.tasks.windows"])
    assert "ecgnet_tf.training.fit" in _imports("ecgnet_tf.train", MODULES["ecgnet_tf.train"])


def test_no_library_module_imports_a_command_module():
    bad = [f"{m} imports {t}" for m, p in sorted(MODULES.items()) if m not in COMMANDS
           for t in sorted(_imports(m, p)) if t in COMMANDS]
    assert not bad, "library modules import command modules:\n" + "\n".join(bad)


def test_imports_only_go_down():
    bad = []
    for m, p in sorted(MODULES.items()):
        if m in COMMANDS and _layer(m) == TOP:
            continue
        for t in sorted(_imports(m, p)):
            if t.split(".")[:2] != m.split(".")[:2] and _layer(t) > _layer(m):
                bad.append(f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})")
    assert not bad, "imports that go up a layer:\n" + "\n".join(bad)


@pytest.mark.parametrize("entry", ["export.quantize", "export.benchmark", "export.golden", "data.download",
                                   "ecgnet_tf.export.quantize", "ecgnet_tf.download"])
def test_repo_root_entry_points_still_work(entry):
    res = subprocess.run([sys.executable, "-m", entry, "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-1500:]
    assert "usage:" in res.stdout


def test_old_homes_are_gone():
    for gone in ("training/tasks.py", "training/windows.py", "training/rundir.py"):
        assert not (PKG / gone).exists(), gone
    text = "\n".join(p.read_text() for p in MODULES.values())
    for name in ("_tuples(", "RunContext", "explain.Context", "PreprocessConfig(**"):
        assert name not in text, name


def test_every_command_is_a_console_script():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    scripts = {line.split("=", 1)[1].strip() for line in cfg["options.entry_points"]["console_scripts"].splitlines()
               if "=" in line}
    assert {f"{m}:main" for m in COMMANDS} == scripts
    include = cfg["options.packages.find"]["include"].split()
    assert set(include) == {"ecgnet_tf", "ecgnet_tf.*"}  # no top-level export/ or data/ package installed
