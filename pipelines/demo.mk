# pipelines/demo.mk - the CPU demo: synthetic COCO -> packed shards -> a tiny
# captioner trained from scratch -> captions for the validation split ->
# COCO metrics. Run as `make demo` from the top directory (it builds the
# tools first). File targets, so an interrupted demo resumes where it
# stopped (training continues from its newest checkpoint).
#
#   DEMO=demo        output directory
#   TRAIN=2000 VAL=200 SIZE=64 SEED=0   dataset shape
#   CONFIG=configs/demo.json            training recipe (tiny model, demo vocab)
#   TRAIN_SET=                          extra blip-train --set KEY=VALUE options
DEMO   ?= demo
TRAIN  ?= 2000
VAL    ?= 200
SIZE   ?= 64
SEED   ?= 0
CONFIG ?= configs/demo.json
TRAIN_SET ?=
BIN    ?= bin

RUN = $(DEMO)/run

.PHONY: demo
demo: $(DEMO)/scores.txt
	@echo "== example captions (validation images; references in $(DEMO)/coco/annotations)"
	@head -n 5 $(DEMO)/val_captions.jsonl
	@echo "== COCO metrics of $(RUN)/best on the $(VAL) validation images"
	@cat $(DEMO)/scores.txt

$(DEMO)/coco/annotations/captions_val2014.json:
	$(BIN)/blip-synth -n $(TRAIN) --val $(VAL) --size $(SIZE) --seed $(SEED) $(DEMO)/coco

$(DEMO)/shards/manifest.json: $(DEMO)/coco/annotations/captions_val2014.json
	$(BIN)/blip-pack -o $(DEMO)/shards $(DEMO)/coco

# Training ends with the model of the best validation epoch in $(RUN)/best.
$(RUN)/done: $(DEMO)/shards/manifest.json $(CONFIG)
	@resume=; if ls -d $(RUN)/checkpoint-* >/dev/null 2>&1; then resume=--resume; fi; \
	echo "$(BIN)/blip-train -c $(CONFIG) -o $(RUN) $$resume --val $(DEMO)/shards/val $(TRAIN_SET) $(DEMO)/shards/train"; \
	$(BIN)/blip-train -c $(CONFIG) -o $(RUN) $$resume --val $(DEMO)/shards/val $(TRAIN_SET) \
	  $(DEMO)/shards/train > /dev/null
	@grep '"val"' $(RUN)/metrics.jsonl | sed 's/^/  /'
	@touch $@

$(DEMO)/val_captions.jsonl: $(RUN)/done
	$(BIN)/blip-gen $(RUN)/best $(DEMO)/shards/val > $@.tmp && mv $@.tmp $@

$(DEMO)/scores.txt: $(DEMO)/val_captions.jsonl
	$(BIN)/blip-score $(DEMO)/coco/annotations/captions_val2014.json $< > $@.tmp && mv $@.tmp $@
