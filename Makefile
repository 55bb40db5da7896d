# DTS developer entry points. `make run` and `make test` are all a fresh
# machine needs; see README.md.

BUILD_DIR      ?= build
ASAN_BUILD_DIR ?= build-asan
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS   ?= 60
# The CQL frame decoder gets as long as the others (CI: 30 s each).
CQL_FUZZ_SECONDS ?= $(FUZZ_SECONDS)
JOBS           ?= $(shell nproc)
CMAKE_FLAGS    ?=

.PHONY: all deps node-deps build run migrate test test-unit test-asan fuzz bench format tidy clean \
        services-up services-down

all: build

deps:
	bash scripts/install-deps.sh

# The npm packages of the dashboard tests (playwright-core; tests/dashboard).
# Idempotent; needed by the tests only, not by `make run`.
node-deps:
	bash scripts/install-node-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: deps build
	./$(BUILD_DIR)/dts server --data-dir ./dts-data

# Creates the Cassandra keyspace if missing and applies migrations/cassandra/
# (embedded in the binary). CASSANDRA_HOSTS (127.0.0.1:9042),
# CASSANDRA_KEYSPACE (task_scheduler), CASSANDRA_REPLICATION, CASSANDRA_USERNAME and
# CASSANDRA_PASSWORD come from the environment or ./.env (the environment wins).
migrate: build
	./$(BUILD_DIR)/dts migrate --backend cassandra

# Everything CI runs: dependencies, release build and tests (with Kafka and
# Cassandra started for the tests labelled for them), then the same tests
# under AddressSanitizer + UndefinedBehaviorSanitizer, then a short fuzz run.
test: deps node-deps
	bash scripts/test.sh

test-unit: build node-deps
	ctest --test-dir $(BUILD_DIR) -LE 'kafka|cassandra' --output-on-failure -j $(JOBS)

test-asan: node-deps
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDTS_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD_DIR) -LE 'kafka|cassandra' --output-on-failure -j $(JOBS)

# Every libFuzzer target (fuzz/), each for FUZZ_SECONDS, from its seed corpus
# in fuzz/corpus/<name> (new inputs go to $(FUZZ_BUILD_DIR)/corpus/<name>).
# A crash stops here with the input saved as crash-* in the current directory.
FUZZERS = cron_parse_fuzzer cql_frame_fuzzer http_request_fuzzer json_job_fuzzer task_message_fuzzer
fuzz:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DDTS_FUZZ=ON -DDTS_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target $(FUZZERS)
	mkdir -p $(addprefix $(FUZZ_BUILD_DIR)/corpus/,cron cql_frame http_request json_job task_message)
	./$(FUZZ_BUILD_DIR)/fuzz/cron_parse_fuzzer -max_total_time=$(FUZZ_SECONDS) \
	  -dict=fuzz/cron.dict $(FUZZ_BUILD_DIR)/corpus/cron fuzz/corpus/cron
	./$(FUZZ_BUILD_DIR)/fuzz/cql_frame_fuzzer -max_total_time=$(CQL_FUZZ_SECONDS) -max_len=4096 \
	  -timeout=10 -rss_limit_mb=2048 $(FUZZ_BUILD_DIR)/corpus/cql_frame fuzz/corpus/cql_frame
	./$(FUZZ_BUILD_DIR)/fuzz/http_request_fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -timeout=10 -rss_limit_mb=2048 -dict=fuzz/http.dict \
	  $(FUZZ_BUILD_DIR)/corpus/http_request fuzz/corpus/http_request
	./$(FUZZ_BUILD_DIR)/fuzz/json_job_fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -timeout=10 -rss_limit_mb=2048 -dict=fuzz/json.dict \
	  $(FUZZ_BUILD_DIR)/corpus/json_job fuzz/corpus/json_job
	./$(FUZZ_BUILD_DIR)/fuzz/task_message_fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -timeout=10 -rss_limit_mb=2048 $(FUZZ_BUILD_DIR)/corpus/task_message fuzz/corpus/task_message

bench:
	bash scripts/install-deps.sh --bench
	BUILD_DIR=$(BUILD_DIR) JOBS=$(JOBS) bash scripts/bench.sh

services-up:
	bash scripts/services.sh up all

services-down:
	bash scripts/services.sh down all

format:
	find src bench fuzz tests -name '*.cc' -o -name '*.h' | xargs clang-format -i

tidy: build
	find src -name '*.cc' | xargs clang-tidy -p $(BUILD_DIR) --quiet

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
