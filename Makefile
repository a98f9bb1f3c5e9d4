# Swiftlet — the two commands of the README:
#   make run    release build, serves on port 6379 with data in ./data
#   make test   the whole test suite (installs what it needs that is missing)
SHELL := /bin/bash
PORT ?= 6379
APT_PACKAGES := redis-server redis-tools redis-sentinel node-redis tcl-tls openssl iproute2
# What the build links: Lua 5.1 with Redis's cjson and bit libraries (Debian's packages).
BUILD_PACKAGES := liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
VENV := .venv
PY := $(VENV)/bin/python
REDIS_PY_VERSION := 8.1.0
REDIS_PY_SRC := $(VENV)/redis-py/redis-$(REDIS_PY_VERSION)

.PHONY: run test release debug deps-build deps-system deps-python unit sanitize fuzz integration redis-py compat lint warnings bench clean docs

run: release
	mkdir -p data
	./.build/release/swiftlet-server --port $(PORT) --dir ./data

release: deps-build
	swift build -c release --product swiftlet-server
	swift build -c release --product swiftlet-check-rdb
	swift build -c release --product swiftlet-check-aof
	swift build -c release --product swiftlet-cli

debug: deps-build
	swift build

# System packages the build needs (Lua), installed when missing.
deps-build:
	@missing=""; for p in $(BUILD_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# System packages the tests use: a reference redis-server, redis-cli/redis-benchmark,
# redis-sentinel, node-redis; Tcl's TLS package and openssl for the TLS tests; iproute2
# (ip, ss) for the hostile-client tests' network namespace and socket checks.
deps-system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Python test clients in a venv, and redis-py's own test suite from its sdist.
deps-python: $(VENV)/.ready-$(REDIS_PY_VERSION)

$(VENV)/.ready-$(REDIS_PY_VERSION): system-tests/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -r system-tests/requirements.txt
	mkdir -p $(VENV)/redis-py
	$(PY) -m pip download -q --no-deps --no-binary :all: redis==$(REDIS_PY_VERSION) -d $(VENV)/redis-py
	tar xzf $(VENV)/redis-py/redis-$(REDIS_PY_VERSION).tar.gz -C $(VENV)/redis-py
	touch $@

unit: deps-build
	swift test

# The unit tests again, built with AddressSanitizer everywhere and UndefinedBehaviorSanitizer
# on the C parts (Lua and its allocator, the malloc counter; Swift traps on overflow and
# bad indexes by itself), in a build directory of their own.
SANITIZE_FLAGS := --scratch-path .build/sanitize --sanitize=address -Xcc -fsanitize=undefined \
	-Xcc -fno-sanitize-recover=undefined -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined
# Leak reports are off: each test's server (its command table, Lua state, sessions) lives,
# as the one server of a process does, until the process ends.
sanitize: deps-build
	swift build --build-tests $(SANITIZE_FLAGS)
	ASAN_OPTIONS=detect_leaks=0 swift test --skip-build $(SANITIZE_FLAGS)

# The libFuzzer harnesses of Fuzz/, FUZZ_SECONDS (default 60) each; crash inputs land in
# .build/fuzz/artifacts/.
fuzz: deps-build
	bash scripts/fuzz.sh

# No compiler warnings in our own code (dependencies are not ours to fix).
warnings: deps-build
	@mkdir -p .build; swift build 2>&1 | tee .build/warnings.log | grep -E "^/.*/(Sources|Tests)/.*: warning:" && { echo "warnings in our code"; exit 1; } || true

lint:
	swift format lint --strict --recursive Sources Tests Package.swift Benchmarks/Package.swift Benchmarks/Benchmarks
	bash scripts/check-unsafe.sh

integration: deps-system deps-python release
	$(PY) -m pytest -q -p no:cacheprovider system-tests/integration

redis-py: deps-system deps-python release
	$(PY) system-tests/run_redis_py_suite.py --suite $(REDIS_PY_SRC) --must-pass system-tests/redis-py-must-pass.txt
	$(PY) system-tests/run_redis_py_suite.py --suite $(REDIS_PY_SRC) --cluster \
		--must-pass system-tests/redis-py-cluster-must-pass.txt

# Redis's own Tcl test suite (Debian's redis 7.0.15 source package) in its external-server
# mode, in its own mode with our binaries as src/redis-server & co, and in its own mode
# with TLS (--tls: TLS ports only, TLS replication). Every test Redis
# passes must pass, unless system-tests/compat/excluded.tsv gives its reason. Then
# unit/wait of Redis 8.0.2's suite (trixie's source package), for WAITAOF (Redis 7.2).
REDIS_SUITE_DIR := .build/redis-suite
compat: deps-system release
	@tree=$$(bash scripts/fetch-redis-suite.sh $(REDIS_SUITE_DIR)) && \
	python3 system-tests/compat/run_compat.py --suite "$$tree" --mode external own tls \
		--reference system-tests/compat/redis-7.0.15-{mode}.txt --excluded system-tests/compat/excluded.tsv
	@tree=$$(bash scripts/fetch-redis-suite.sh $(REDIS_SUITE_DIR) 8.0.2) && \
	python3 system-tests/compat/run_compat.py --suite "$$tree" --mode own --units unit/wait \
		--reference system-tests/compat/redis-8.0.2-{mode}.txt --excluded system-tests/compat/excluded.tsv

test: deps-system deps-python lint warnings unit sanitize release compat integration redis-py

# Regenerates docs/COMPATIBILITY.md and docs/CONFIG.md from the command and directive tables.
docs: deps-build
	mkdir -p docs
	UPDATE_DOCS=1 swift test --filter ReferenceDocsTests

# Microbenchmarks with their allocation thresholds, instructions per command against
# redis-server, and redis-benchmark side by side; tables in benchmarks/results/latest.md.
bench: release deps-system
	@command -v valgrind >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null)
	bash benchmarks/run-all.sh

clean:
	rm -rf .build data
