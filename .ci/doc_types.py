"""The documented calls type-check as user code writes them: every Python block of the README
and docs/ is written out as a module and checked with ``mypy --strict`` (bodies of unannotated
functions included), so a call the docs show cannot return a type users cannot use.

docs/recipes.md is left out: it is the recipe modules themselves (examples/recipes), whose
third-party libraries bring their own typing, checked or not by their authors.

Usage: python .ci/doc_types.py  (exit status: mypy's)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.S)

with tempfile.TemporaryDirectory() as folder:
    files = []
    docs = [d for d in sorted((ROOT / "docs").glob("*.md")) if d.name != "recipes.md"]
    for doc in [ROOT / "README.md", *docs]:
        for number, block in enumerate(BLOCK.findall(doc.read_text())):
            path = Path(folder) / f"{doc.stem.replace('-', '_')}_{number}.py"
            path.write_text(block)
            files.append(str(path))
    sys.exit(subprocess.run([
        sys.executable, "-m", "mypy", "--strict", "--check-untyped-defs",
        "--allow-untyped-defs", "--allow-untyped-calls", "--ignore-missing-imports",
        "--no-incremental", *files]).returncode)
