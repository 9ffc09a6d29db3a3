#!/usr/bin/env bash
# Regenerate the README pictures in docs/img/ with the commands the README shows.
#
#   docs/make_figures.sh                                 # trains two small models first (about 4 minutes on 2 idle CPU cores)
#   docs/make_figures.sh TRANSLATION_CKPT IMAGE_CKPT [CURVES_RUN_DIR] [SENTENCE] [IMAGE_FILE]
#
# Without arguments it trains a tiny German->English model on generated word-order sentences
# (German puts the verb last after "dass", so cross-attention is not a diagonal) and a ViT on
# Fashion-MNIST (Debian's dataset-fashion-mnist). Real recipe checkpoints work as well, e.g.
#   docs/make_figures.sh runs/<de-en run> runs/<vit run> runs/<vit run> "Ich sehe das Haus." shoe.png
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
OUT=docs/img
WORK=${WORK:-runs/figures}
mkdir -p "$OUT" "$WORK"

translation=${1:-}
image=${2:-}
curves=${3:-}
sentence=${4:-"ich glaube dass du das rote haus siehst"}
picture=${5:-$WORK/fashion_sample.png}

make_sentences() {
  # Template sentences: "<subject> <verb> das <adjective> <noun>" and the verb-last "dass" clause.
  "$PY" - "$WORK/data" <<'PY'
import itertools, pathlib, sys
folder = pathlib.Path(sys.argv[1]); folder.mkdir(parents=True, exist_ok=True)
people = [("ich sehe", "i see"), ("du siehst", "you see"), ("er sieht", "he sees"), ("wir sehen", "we see"),
          ("ich male", "i paint"), ("du malst", "you paint"), ("er malt", "he paints"),
          ("ich kaufe", "i buy"), ("du kaufst", "you buy"), ("er kauft", "he buys"), ("wir kaufen", "we buy")]
adjectives = [("rote", "red"), ("blaue", "blue"), ("grosse", "big"), ("kleine", "small"), ("alte", "old"),
              ("neue", "new"), ("gelbe", "yellow")]
nouns = [("haus", "house"), ("auto", "car"), ("boot", "boat"), ("buch", "book"), ("bild", "picture"),
         ("fenster", "window"), ("fahrrad", "bicycle")]
de, en = [], []
for (sv, sv_en), (adj, adj_en), (noun, noun_en) in itertools.product(people, adjectives, nouns):
    subject, verb = sv.split()
    de += [f"{sv} das {adj} {noun}", f"ich glaube dass {subject} das {adj} {noun} {verb}"]
    en += [f"{sv_en} the {adj_en} {noun_en}", f"i think that {sv_en} the {adj_en} {noun_en}"]
(folder / "train.de").write_text("\n".join(de) + "\n"); (folder / "train.en").write_text("\n".join(en) + "\n")
PY
}

newest_checkpoint() {  # last.ckpt, or the newest checkpoint of a run stopped by its time limit
  if [ -f "$1/checkpoints/last.ckpt" ]; then echo "$1/checkpoints/last.ckpt"; else ls -t "$1"/checkpoints/*.ckpt | head -1; fi
}

if [ -z "$translation" ]; then
  make_sentences
  "$PY" -m tformer.cli.train task=translation source=text_bpe target=text_bpe data=parallel_text model=tiny \
    data.train.source_path="$WORK/data/train.de" data.train.target_path="$WORK/data/train.en" \
    source.vocab_size=200 target.vocab_size=200 data.batch_size=32 data.num_workers=0 task/optimizer=adam task/scheduler=inverse_sqrt \
    task.scheduler.warmup_steps=200 trainer.max_epochs=25 trainer.check_val_every_n_epoch=5 \
    trainer.log_every_n_steps=10 callbacks.checkpoint.save_top_k=1 trainer.enable_progress_bar=false test=false examples=0 run_dir="$WORK/translation"
  translation=$(newest_checkpoint "$WORK/translation")
fi
if [ -z "$image" ]; then
  "$PY" -m tformer.cli.train experiment=vit_fashion_mnist source.patch_size=4 trainer.max_steps=400 \
    trainer.val_check_interval=100 trainer.limit_val_batches=5 task.scheduler.warmup_steps=100 \
    trainer.log_every_n_steps=10 callbacks.checkpoint.save_top_k=1 trainer.enable_progress_bar=false test=false examples=0 run_dir="$WORK/vit"
  image=$(newest_checkpoint "$WORK/vit")
fi
if [ -z "$curves" ]; then  # the image model's run: a run directory, or the one holding checkpoints/<file>
  if [ -d "$image" ]; then curves=$image; else curves=$(dirname "$(dirname "$image")"); fi
fi
if [ ! -f "$picture" ]; then
  "$PY" -c "import sys, PIL.Image; from tformer.data import fashion_mnist
image, label = fashion_mnist('test')[0]; PIL.Image.fromarray(image).resize((112, 112)).save(sys.argv[1]); print(label)" "$picture"
fi

set -x
"$PY" -m tformer.cli.plot positions --d-model 128 --length 100 -o "$OUT/positions.png"
"$PY" -m tformer.cli.plot attention --ckpt "$translation" --input "$sentence" --layer -1 -o "$OUT/attention_text.png"
"$PY" -m tformer.cli.plot attention --ckpt "$image" --input "$picture" -o "$OUT/attention_image.png"
"$PY" -m tformer.cli.plot curves --run "$curves" -o "$OUT/curves.png"
