# FleetRules: `make demo` runs the main job on the example fleet; `make test` is what CI runs.
SWIFT ?= swift
BUILD_FLAGS ?=
BIN = .build/debug/fleetrules

.PHONY: all deps mqtt-deps build format lint test demo demo-delivery schema bench clean fuzz fuzz-build \
	embedding-example docs

all: build

# Installs what the machine lacks: libyaml, zlib and SQLite headers and Prometheus Alertmanager
# (Debian packages) and the Python packages the schema test uses.
deps:
	@if ! pkg-config --exists yaml-0.1 zlib 2>/dev/null || [ ! -f /usr/include/sqlite3.h ]; then \
		echo "installing libyaml-dev libsqlite3-dev zlib1g-dev"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libyaml-dev libsqlite3-dev zlib1g-dev pkg-config; \
	fi
	@python3 -c "import jsonschema, yaml" 2>/dev/null || python3 -m pip install -q jsonschema pyyaml
	@command -v prometheus-alertmanager >/dev/null 2>&1 || [ -x /usr/bin/prometheus-alertmanager ] || { \
		echo "installing prometheus-alertmanager (the delivery tests hand alerts to a real one)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq prometheus-alertmanager; }

# Mosquitto (broker and clients, Debian packages): the MQTT tests start a real broker on a free
# loopback port, and examples/mqtt/ uses it.
mqtt-deps:
	@if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] || ! command -v mosquitto_pub >/dev/null 2>&1; then \
		echo "installing mosquitto mosquitto-clients"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq mosquitto mosquitto-clients; \
	fi

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# The Swift sources follow the checked-in .swift-format: `make format` rewrites them, `make lint`
# (part of `make test`) fails on any difference.
SWIFT_SOURCES = Package.swift Sources Tests examples/embedding Benchmarks/Package.swift Benchmarks/Benchmarks \
	Fuzz/Package.swift Fuzz/Sources
format:
	$(SWIFT) format format --in-place --recursive $(SWIFT_SOURCES)
lint:
	$(SWIFT) format lint --strict --recursive $(SWIFT_SOURCES)

# The report renderers are checked outside Swift too: iCalendar with the Python `icalendar`
# package, the HTML page in headless chromium (installed here when missing; skipped only when
# it cannot be installed).
test: build mqtt-deps lint
	$(SWIFT) test $(BUILD_FLAGS)
	python3 scripts/validate_schema.py $(BIN) rules
	$(BIN) check rules/ --warnings-as-errors
	$(BIN) test rules/tests/
	.build/debug/embedding-example > /dev/null
	@$(MAKE) --no-print-directory embedding-example
	@python3 -c "import icalendar" 2>/dev/null || python3 -m pip install -q icalendar
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "installing chromium (headless check of the HTML report)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null || echo "chromium could not be installed"; }
	$(BIN) run rules/ --telemetry examples/fleet/telemetry.jsonl.gz --inventory examples/fleet/inventory.csv \
		--forecast-history --format json --out .build/test-report.json
	$(BIN) report .build/test-report.json --format ical --out .build/test-report.ics
	python3 scripts/validate_ical.py .build/test-report.ics Tests/FleetRulesTests/Fixtures/golden/report.ics
	$(BIN) report .build/test-report.json --format html --out .build/test-report.html
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		python3 scripts/check_html.py .build/test-report.html --screenshot .build/test-report.png --expect forecast,drift,balance; \
	else echo "SKIP: HTML browser check (no chromium)"; fi
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS) FUZZ_FLAGS=-max_len=16384

# examples/embedding as the separate package it is (FleetRules by path, as a service depends on
# it): builds the README snippet verbatim and the example, which reads the example fleet's report
# back into `Report` and writes it again byte for byte.
EMBEDDING_BIN = .build-embedding/debug
embedding-example: build
	$(SWIFT) build --package-path examples/embedding --scratch-path .build-embedding $(BUILD_FLAGS)
	$(BIN) run rules/ --telemetry examples/fleet/telemetry.jsonl.gz --inventory examples/fleet/inventory.csv \
		--forecast-history --format json --out .build/embedding-report.json
	$(EMBEDDING_BIN)/EmbeddingExample .build/embedding-report.json
	$(EMBEDDING_BIN)/ReadmeExample

# The API reference of the FleetRules and FleetRulesDelivery libraries (DocC, swift-docc-plugin),
# written to .build/docs/<Library>.doccarchive; fails on any DocC warning.
DOCS_DIR = .build/docs
docs:
	@mkdir -p $(DOCS_DIR)
	@for target in FleetRules FleetRulesDelivery; do \
		$(SWIFT) package --allow-writing-to-directory $(DOCS_DIR) generate-documentation --target $$target \
			--output-path $(DOCS_DIR)/$$target.doccarchive --warnings-as-errors || exit 1; \
	done
	@echo "API reference: $(CURDIR)/$(DOCS_DIR)"

# The main job on the example fleet: check the packs and the delivery configuration, replay
# three days of telemetry, print the morning report, deliver its alerts to the bundled mocks
# (demo-delivery), and write the maintenance calendar and the HTML report (its path is the last line).
demo: build
	$(BIN) check rules/ --delivery examples/delivery.yaml
	$(BIN) run rules/ --telemetry examples/fleet/telemetry.jsonl.gz --inventory examples/fleet/inventory.csv \
		--forecast-history --format json --out .build/demo-report.json
	$(BIN) report .build/demo-report.json --format table
	@$(MAKE) --no-print-directory demo-delivery
	$(BIN) report .build/demo-report.json --format ical --out .build/demo-maintenance.ics
	$(BIN) report .build/demo-report.json --format html --out .build/demo-report.html
	@echo "HTML report: $(CURDIR)/.build/demo-report.html"

# Starts `webhook-receiver` (port 8080) and `sms-gateway` (port 8090), delivers the example
# fleet's alerts with examples/delivery.yaml, shows what arrived, and stops the mocks.
DEMO = .fleetrules/demo
demo-delivery: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@$(BIN) webhook-receiver --port 8080 --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --store $(DEMO)/webhooks.jsonl > $(DEMO)/receiver.log 2>&1 & echo $$! > $(DEMO)/receiver.pid
	@$(BIN) sms-gateway --port 8090 --store $(DEMO)/sms.jsonl > $(DEMO)/gateway.log 2>&1 & echo $$! > $(DEMO)/gateway.pid
	@sleep 1; cat $(DEMO)/receiver.log $(DEMO)/gateway.log
	@$(BIN) run rules/ --telemetry examples/fleet/telemetry.jsonl.gz --inventory examples/fleet/inventory.csv \
		--out $(DEMO)/report.json --deliver examples/delivery.yaml --outbox $(DEMO)/outbox.sqlite --deliver-timeout 40s; \
	status=$$?; \
	echo "--- webhooks received (GET /received):"; curl -s http://127.0.0.1:8080/received | cut -c1-200; \
	echo "--- first webhook body:"; head -n 1 $(DEMO)/webhooks.jsonl | cut -c1-400; \
	echo "--- SMS at the gateway (GET /messages):"; curl -s http://127.0.0.1:8090/messages | cut -c1-600; \
	echo "--- outbox:"; $(BIN) outbox list --outbox $(DEMO)/outbox.sqlite | tail -n 1; \
	kill $$(cat $(DEMO)/receiver.pid) $$(cat $(DEMO)/gateway.pid); exit $$status

schema: build
	@$(BIN) schema

# Release-build figures for the engine's throughput targets (see docs/PERFORMANCE.md).
bench:
	$(SWIFT) build -c release
	.build/release/fleetrules bench --devices 10000 --readings 1000000

# Fuzzing (docs/TESTING.md): the libFuzzer targets of Fuzz/, built with sanitizers in their own
# scratch path; each runs FUZZ_SECONDS over its corpus, regressions and dictionary.
FUZZ_SCRATCH = .build-fuzz
FUZZ_TARGETS ?= policy expression telemetry body delivery
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 15
# debug builds fastest (CI); release runs several times more inputs a second (long campaigns).
FUZZ_CONFIG ?= debug

fuzz-build: deps
	cd Fuzz && $(SWIFT) build -c $(FUZZ_CONFIG) --scratch-path ../$(FUZZ_SCRATCH) -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld

fuzz: fuzz-build
	python3 scripts/fuzz_corpus.py $(FUZZ_SCRATCH)/corpus
	FUZZ_CONFIG=$(FUZZ_CONFIG) scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf .build $(FUZZ_SCRATCH)
