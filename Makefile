# Two entry points that work on a fresh machine with python3: `make up` and `make test`.
# uv is installed with pip when it is missing; everything else comes from the project's own files.

UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: up test lint bootstrap uv sandbox

# `up` runs OpenClaw in a bubblewrap sandbox and refuses to start without it.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || bash scripts/ensure-debian-packages bubblewrap

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

# Everything development needs: the dev group (tests, linters) and the train group (corpora,
# scikit-learn) that the classifier tests use.
bootstrap: uv
	$(UV) sync --frozen

# Running the stack needs only the runtime dependencies (Node 24 among them), not the groups.
up: uv sandbox
	$(UV) run --frozen --no-default-groups openclaw-secure-stack up

lint: bootstrap
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

# pytest exits 5 when it collected no test: that stays a failure here, never a silent pass.
# Tests run on one pytest-xdist worker per core; tests sharing one expensive resource (the real
# OpenClaw of tests/e2e, the plugin's npm install) stay on one worker (tests/conftest.py).
test: lint sandbox
	@$(UV) run --frozen pytest -n auto; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; fi; exit $$rc
