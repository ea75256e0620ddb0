# pipelines/coco.mk - BLIP's COCO caption fine-tuning, end to end, as make
# file targets (an interrupted run resumes where it stopped; training goes on
# from its newest checkpoint):
#
#   pack (Karpathy splits) -> blip-train from a pretrained model -> blip-gen
#   on the Karpathy val and test images -> blip-score against their references
#
#   make -f pipelines/coco.mk COCO_ROOT=/data/coco2014 KARPATHY=/data/karpathy \
#        INIT=models/blip-image-captioning-base
#
#   COCO_ROOT  annotations/captions_{train,val}2014.json, train2014/, val2014/
#   KARPATHY   BLIP's coco_karpathy_{train,val,test}.json and
#              coco_karpathy_{val,test}_gt.json
#   INIT       a HuggingFace-format BLIP directory to fine-tune (config.json,
#              model.safetensors, vocab.txt)
#   GPUS       0 (default): train and caption on the CPU; N >= 1: train on N
#              GPUs of this machine (--device cuda, --gpus N: one rank per GPU;
#              batch_size is per GPU, so the global batch is N x batch_size, as
#              BLIP's 8-GPU runs), caption on one. Several machines:
#              pipelines/slurm/caption_coco.sbatch
#   OUT=coco   output directory;  CONFIG=configs/caption_coco.json
#   TRAIN_SET  extra blip-train --set KEY=VALUE options
COCO_ROOT ?= $(error set COCO_ROOT=/path/to/coco2014)
KARPATHY  ?= $(error set KARPATHY=/path/to/the/karpathy/json/files)
INIT      ?= $(error set INIT=/path/to/a/pretrained/BLIP/model/directory)
GPUS      ?= 0
OUT       ?= coco
CONFIG    ?= configs/caption_coco.json
TRAIN_SET ?=
BIN       ?= bin

DEVICE = $(if $(filter 0,$(GPUS)),cpu,cuda)
RANKS  = $(if $(filter 0 1,$(GPUS)),,--gpus $(GPUS))
RUN    = $(OUT)/run
# BLIP's evaluation decoding, from the recipe
BEAMS  = $(shell sed -n 's/.*"num_beams": *\([0-9]*\).*/\1/p' $(CONFIG))
MAXLEN = $(shell sed -n 's/.*"max_length": *\([0-9]*\).*/\1/p' $(CONFIG))
MINLEN = $(shell sed -n 's/.*"min_length": *\([0-9]*\).*/\1/p' $(CONFIG))

.PHONY: all
all: $(OUT)/val_scores.txt $(OUT)/test_scores.txt
	@for s in val test; do echo "== Karpathy $$s"; cat $(OUT)/$${s}_scores.txt; done

$(OUT)/shards/manifest.json:
	$(BIN)/blip-pack -o $(OUT)/shards $(foreach s,train val test,--karpathy $(KARPATHY)/coco_karpathy_$(s).json) $(COCO_ROOT)

$(RUN)/done: $(OUT)/shards/manifest.json $(CONFIG)
	@start="--init $(INIT)"; if ls -d $(RUN)/checkpoint-* >/dev/null 2>&1; then start=--resume; fi; \
	set -x; $(BIN)/blip-train -c $(CONFIG) -o $(RUN) $$start --device $(DEVICE) $(RANKS) \
	  --val $(OUT)/shards/val $(TRAIN_SET) $(OUT)/shards/train
	touch $@

$(OUT)/%_captions.jsonl: $(RUN)/done
	$(BIN)/blip-gen --device $(DEVICE) --beams $(BEAMS) --max-length $(MAXLEN) --min-length $(MINLEN) \
	  $(RUN)/best $(OUT)/shards/$* > $@.tmp && mv $@.tmp $@

$(OUT)/%_scores.txt: $(OUT)/%_captions.jsonl
	$(BIN)/blip-score $(KARPATHY)/coco_karpathy_$*_gt.json $< > $@.tmp && mv $@.tmp $@
