# Sourced by bench/peft_compat/run.sh and bench/train/run.sh: creates (once) a venv with the
# PyTorch stack from PyPI and sets $PY to its python.
#
# The versions are pinned so reruns reuse the cached venv (~/.cache/apprentice/peft-venv,
# or $PEFT_VENV). PyPI's Linux torch wheels depend on the CUDA runtime wheels (about 3 GB
# installed); nothing here uses a GPU, but there is no CPU-only torch on PyPI.
PEFT_VENV="${PEFT_VENV:-$HOME/.cache/apprentice/peft-venv}"
PY_STACK="torch==2.5.1 transformers==4.46.3 peft==0.13.2 trl==0.12.2 gguf==0.10.0 sentencepiece==0.2.0 numpy==1.26.4 pandas==2.2.3 accelerate==1.1.1 datasets==3.1.0 pyarrow==17.0.0 psutil"
if ! "$PEFT_VENV/bin/python" -c "import torch, transformers, peft, trl, datasets, gguf, psutil" 2>/dev/null; then
    echo "creating $PEFT_VENV (first run: downloads torch and its CUDA wheels from PyPI)" >&2
    python3 -m venv "$PEFT_VENV"
    # shellcheck disable=SC2086
    "$PEFT_VENV/bin/pip" install --quiet $PY_STACK
fi
PY="$PEFT_VENV/bin/python"
# Everything is local: never ask the Hugging Face hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
