.PHONY: demo test lint format

demo:  ## start a local chaosiq-server, sign in, run the sample experiments, print where to see them
	./scripts/demo.sh

test:  ## lint and run every test on Python 3.11 and 3.12
	./scripts/test.sh

lint:
	uv run ruff check . && uv run ruff format --check .

format:
	uv run ruff format . && uv run ruff check --fix .
