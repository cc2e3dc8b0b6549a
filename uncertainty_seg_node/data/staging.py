"""A prepared data set layout is written whole or not at all.

The prepare commands (`camvid-prepare`, `ycor-prepare`) read a user's copy of a public data set
frame by frame; a bad frame halfway must not leave a half-made layout that a later run would
take for a whole one. So they write into a hidden staging folder inside the output folder and
move each planned folder, and the class maps beside them, into place only at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from uncertainty_seg_node.errors import UserError


@contextmanager
def staged_layout(out: Path, folders: Sequence[str], prefix: str) -> Iterator[Path]:
    """A staging folder inside OUT for FOLDERS (e.g. `day/train`), moved into OUT on success.

    OUT must not hold any of FOLDERS yet. On a clean exit every planned folder the staging folder
    holds, then every file at its top (the class maps), moves into OUT; on an error nothing does,
    and the staging folder is removed either way.
    """
    existing = [f for f in folders if (out / f).exists()]
    if existing:
        raise UserError(f"{out} already holds {', '.join(existing)}; remove them or choose "
                        "another --out")
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=prefix))
    try:
        yield staging
        for folder in folders:
            if (staging / folder).exists():
                (out / folder).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / folder, out / folder)
        for entry in sorted(staging.iterdir()):
            if entry.is_file():
                os.replace(entry, out / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
