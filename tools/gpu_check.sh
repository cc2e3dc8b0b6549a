#!/usr/bin/env bash
# One-command GPU check of the deployment path, under 8 minutes on a CUDA machine:
#   export -> ONNX Runtime CUDA -> TensorRT fp32 and fp16 (cache hit on the second start)
#   -> parity against torch -> bench of the default model and of ViT-S/14 at 518x1036.
# Prints one table; exits non-zero with one `CANNOT RUN <part>: <why>` line per part that cannot
# run here (no GPU, no TensorRT, no onnxruntime-gpu). Usage: tools/gpu_check.sh [--device cuda:1]
# Runs in the project's environment (tools/dev) unless PYTHON names another interpreter.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIMIT_S="${GPU_CHECK_LIMIT_S:-480}"
if [[ -n "${PYTHON:-}" ]]; then
  exec timeout "$LIMIT_S" "$PYTHON" "$ROOT/tools/gpu_check.py" "$@"
fi
exec timeout "$LIMIT_S" "$ROOT/tools/dev" run python "$ROOT/tools/gpu_check.py" "$@"
