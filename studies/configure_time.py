"""How long the managed node's configure takes with the default model, first and again.

    python -m studies.results run configure_time --row default --label "default model" \
        --allow-dirty -- python studies/configure_time.py {json}

Runs what configure runs (`uncertainty_seg_node/ros/model_loader.py`: the predictor for the
model file with backend and precision `auto`, then one warm-up inference) on an empty cache
(a temporary XDG_CACHE_HOME), so the first run assembles the delta file and builds whatever the
chosen backend builds (OpenVINO's model in the precision that passes the gate, where the
[openvino] extra is installed); then the same again, with everything cached. Writes seconds:
assemble_s, backend_s (load or build, and the warm-up), first_configure_s, second_configure_s.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def _configure(path: Path) -> tuple[str, str]:
    """One configure's model loading: the predictor, then a warm-up inference."""
    import numpy as np

    from uncertainty_seg_node.inference.factory import load_predictor

    predictor = load_predictor(path, backend="auto", device="cpu", precision="auto")
    h, w = predictor.config.input_size
    predictor.predict(np.zeros((h, w, 3), dtype=np.uint8))
    return predictor.backend_name, str(getattr(predictor, "selection", ""))


def main(out: str) -> int:
    """Measure into the JSON file `out`."""
    with tempfile.TemporaryDirectory(prefix="configure_time_") as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        os.environ.pop("UNCERTAINTY_SEG_CACHE", None)
        from uncertainty_seg_node.export.assemble import deployable
        from uncertainty_seg_node.model.artifact import DEFAULT_MODEL_PATH, resolve_model_path

        path = resolve_model_path(DEFAULT_MODEL_PATH)
        start = time.monotonic()
        deployable(path)
        assembled = time.monotonic()
        backend, selection = _configure(path)
        first = time.monotonic()
        _configure(path)
        second = time.monotonic() - first
    figures = {"assemble_s": round(assembled - start, 1),
               "backend_s": round(first - assembled, 1),
               "first_configure_s": round(first - start, 1),
               "second_configure_s": round(second, 1),
               "backend": backend, "selection": selection}
    Path(out).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
