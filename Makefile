# Two entry points that work on a fresh machine with python3: `make up` and `make test`.
# uv is installed with pip when it is missing; everything else comes from the project's own files.

UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: up test lint bootstrap

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

up: bootstrap
	$(UV) run --frozen openclaw-secure-stack up

lint: bootstrap
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

# pytest exits 5 when it collected no test: that stays a failure here, never a silent pass.
test: lint
	@$(UV) run --frozen pytest; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; fi; exit $$rc
