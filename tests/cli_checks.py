"""Test helper: a command that fails on bad input prints exactly one ``error:`` line and exits 2."""
from __future__ import annotations


def one_error_line(main, capsys, argv) -> str:
    """Run ``main(argv)``; assert exit status 2, no traceback and one ``error:`` line; return that line."""
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]
