#!/usr/bin/env bash
# Put what the app bundles into app/src/main/assets (git-ignored), then check the Java core:
#
#   android_demo/prepare_assets.sh RUN_DIR MODEL.tflite [extra export.golden args, e.g. --fs 300]
#
# RUN_DIR: a run folder from python -m ecgnet_tf.train; MODEL.tflite: its int8 edge model from
# python -m export.quantize RUN_DIR --mode int8 --out MODEL.tflite.
# Writes assets/pipeline_config.json, assets/sample_recording.json (synthetic, never real data),
# assets/ecgnet_edge_int8.tflite and, when MODEL.json (the sidecar export.quantize writes beside the
# model) exists, assets/ecgnet_edge_int8.json, whose metadata.decision the app applies (else it applies
# pipeline_config.json's "decision"); keeps the golden vectors in android_demo/build/golden.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 RUN_DIR MODEL.tflite [--fs HZ] [--seconds S]" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
run_dir="$(cd "$1" && pwd)"
model="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
shift 2
[ -f "$model" ] || { echo "error: $model not found" >&2; exit 2; }
python="${PYTHON:-$repo/.venv/bin/python}"
golden="$here/build/golden"
assets="$here/app/src/main/assets"
mkdir -p "$golden" "$assets"
(cd "$repo" && "$python" -m export.golden "$run_dir" --out "$golden" --tflite "$model" "$@")
cp "$golden/pipeline_config.json" "$golden/sample_recording.json" "$assets/"
cp "$model" "$assets/ecgnet_edge_int8.tflite"
sidecar="${model%.tflite}.json"
if [ -f "$sidecar" ]; then
  cp "$sidecar" "$assets/ecgnet_edge_int8.json"
else
  rm -f "$assets/ecgnet_edge_int8.json"  # never a stale sidecar of another model
  echo "note: no sidecar $sidecar; the app applies pipeline_config.json's decision rule" >&2
fi
echo "assets ready in $assets"
if command -v javac >/dev/null 2>&1 && [ -f "${JUNIT_JAR:-/usr/share/java/junit4.jar}" ]; then
  "$here/core/run_tests.sh" "$golden"
else
  echo "note: javac or JUnit 4 missing; skipped core/run_tests.sh $golden" >&2
fi
