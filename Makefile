# Two commands on a fresh machine:
#   make serve   install into .venv, build the index from corpus/ on first start, serve on :8000
#   make test    install into .venv (with test extras) and run the test suite
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: serve test install index bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0" -e ".[st,test,mcp,milvus,ray]"
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/qa serve

index: $(STAMP)
	$(BIN)/qa index

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) index/CURRENT index/builds
