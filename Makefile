# FleetRules: `make demo` runs the main job on the example fleet; `make test` is what CI runs.
SWIFT ?= swift
BUILD_FLAGS ?=
BIN = .build/debug/fleetrules

.PHONY: all deps build test demo schema bench clean

all: build

# Installs what the machine lacks: libyaml, zlib and SQLite headers (Debian packages) and the
# Python packages the schema test uses.
deps:
	@if ! pkg-config --exists yaml-0.1 zlib 2>/dev/null || [ ! -f /usr/include/sqlite3.h ]; then \
		echo "installing libyaml-dev libsqlite3-dev zlib1g-dev"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libyaml-dev libsqlite3-dev zlib1g-dev pkg-config; \
	fi
	@python3 -c "import jsonschema, yaml" 2>/dev/null || python3 -m pip install -q jsonschema pyyaml

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

test: build
	$(SWIFT) test $(BUILD_FLAGS)
	python3 scripts/validate_schema.py $(BIN) rules
	$(BIN) check rules/ --warnings-as-errors
	$(BIN) test rules/tests/
	.build/debug/embedding-example > /dev/null

# The main job on the example fleet: check the packs, then replay three days of telemetry.
demo: build
	$(BIN) check rules/
	$(BIN) run rules/ --telemetry examples/fleet/telemetry.jsonl.gz --inventory examples/fleet/inventory.csv --format table

schema: build
	@$(BIN) schema

# Release-build figures for the engine's throughput targets (see docs/PERFORMANCE.md).
bench:
	$(SWIFT) build -c release
	.build/release/fleetrules bench --devices 10000 --readings 1000000

clean:
	rm -rf .build
