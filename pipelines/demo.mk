# pipelines/demo.mk - the CPU demo: synthetic COCO -> packed shards -> ...
# Run as `make demo` from the top directory (it builds the tools first).
# File targets, so an interrupted demo resumes where it stopped.
#
#   DEMO=demo        output directory
#   TRAIN=2000 VAL=200 SIZE=64 SEED=0   dataset shape
DEMO  ?= demo
TRAIN ?= 2000
VAL   ?= 200
SIZE  ?= 64
SEED  ?= 0
BIN   ?= bin

.PHONY: demo
demo: $(DEMO)/shards/manifest.json
	@echo "== demo data"
	@$(BIN)/blip-pack --verify $(DEMO)/shards
	@echo "== a few validation records"
	@$(BIN)/blip-pack --list $(DEMO)/shards/val | head -n 3 | cut -c1-200
	@echo "(training, captioning and scoring join the demo as blip-train, blip-gen and blip-score land)"

$(DEMO)/coco/annotations/captions_val2014.json:
	$(BIN)/blip-synth -n $(TRAIN) --val $(VAL) --size $(SIZE) --seed $(SEED) $(DEMO)/coco

$(DEMO)/shards/manifest.json: $(DEMO)/coco/annotations/captions_val2014.json
	$(BIN)/blip-pack -o $(DEMO)/shards $(DEMO)/coco
