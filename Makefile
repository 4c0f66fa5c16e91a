# Two commands on a fresh machine:
#   make serve   install the service into .venv (runtime dependencies only: no torch, no test tools),
#                build the index from corpus/ on first start, serve on :8000
#   make test    install into .venv-test (the project with its st, test and mcp extras, torch pinned)
#                and run the test suite
# Two virtual environments, so that serving stays lean however often the tests ran on the machine:
# one shared venv would carry torch, playwright and the rest into every `make serve` after a `make test`.
PY ?= python3
VENV ?= .venv
TEST_VENV ?= .venv-test
TORCH ?= torch==2.13.0
SERVE_STAMP = $(VENV)/.installed-serve
TEST_STAMP = $(TEST_VENV)/.installed-test

.PHONY: serve test install install-test index clean

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

$(TEST_VENV)/bin/python:
	$(PY) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet --upgrade pip

# what `pip install .` brings: the service, its readers, the e5 model on ONNX Runtime (README: size)
$(SERVE_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet -e .
	touch $@

# torch is pinned here and in the `st` extra; the tests need it for the sentence-transformers backend
$(TEST_STAMP): pyproject.toml | $(TEST_VENV)/bin/python
	$(TEST_VENV)/bin/pip install --quiet "$(TORCH)" -e ".[st,test,mcp,milvus,ray]"
	touch $@

install: $(SERVE_STAMP)

install-test: $(TEST_STAMP)

serve: $(SERVE_STAMP)
	$(VENV)/bin/qa serve

index: $(SERVE_STAMP)
	$(VENV)/bin/qa index

test: $(TEST_STAMP)
	$(TEST_VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) $(TEST_VENV) index/CURRENT index/builds
