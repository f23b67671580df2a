# procd — the two commands that matter:
#   make run    build and start procd on its default socket (procctl works against it)
#   make test   run every test, with the race detector, including the integration tier
#
# Pinned tools install into .bin/ from the Go module proxy (no protoc needed).

GO        ?= go
BIN       := bin
TOOLS     := $(CURDIR)/.bin
export PATH := $(TOOLS):$(PATH)

BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPCURL_VERSION            := v1.9.4
HEALTH_PROBE_VERSION       := v0.4.62
STATICCHECK_VERSION        := v0.8.2
GOVULNCHECK_VERSION        := v1.9.0

# go-install PKG VERSION NAME: install once per version, remembered by a stamp.
define go-install
	@if [ ! -x $(TOOLS)/$(3) ] || [ ! -f $(TOOLS)/.$(3)-$(2) ]; then \
		echo "installing $(1)@$(2)"; \
		GOBIN=$(TOOLS) $(GO) install $(1)@$(2) && rm -f $(TOOLS)/.$(3)-* && touch $(TOOLS)/.$(3)-$(2); \
	fi
endef

.PHONY: all build run test test-clients test-tools tools lint-tools generate check-generated lint breaking staticcheck vulncheck vulncheck-toolchain bench bench-tools fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/procd ./cmd/procctl

# procd on its default socket (/run/procd/procd.sock as root, else
# $XDG_RUNTIME_DIR/procd/procd.sock or /tmp/procd-$UID/procd.sock).
run: build
	@echo "procd is starting; in another shell: export PATH=$(CURDIR)/$(BIN):\$$PATH; procctl run -- echo hello"
	exec ./$(BIN)/procd --log-format console

# Release builds (build, run) leave fault injection out; only the
# integration tier builds its procd with -tags faults (and -race). Its
# package takes 18 min at load 12-19 and up to 35 min at 30-50 on 2 cores,
# hence the timeout.
# The integration tier uses grpcurl and grpc-health-probe; install them
# first. The macOS and Windows builds are checked by cross-compiling. The
# Python and Node clients' tests run against the procd just built (each
# script says SKIP if its runtime is missing; .ci/run installs them).
test: test-tools build
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) build ./...
	$(GO) vet -tags faults ./internal/faults ./internal/output ./internal/manager ./internal/proc ./internal/daemon
	$(GO) test -race -count=1 -timeout 50m ./...
	$(MAKE) --no-print-directory test-clients

test-clients: build
	PROCD_BIN=$(CURDIR)/$(BIN)/procd clients/python/run-tests.sh
	PROCD_BIN=$(CURDIR)/$(BIN)/procd clients/node/run-tests.sh

# Each fuzz target for FUZZTIME (60s); make test runs their seed corpora.
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	internal/server:FuzzStartProcessRequest internal/server:FuzzSendSignal \
	internal/manager:FuzzParseNotify internal/manager:FuzzSpecValidate \
	internal/config:FuzzParseDuration internal/config:FuzzParseSize internal/config:FuzzLoadFile \
	internal/policy:FuzzParseTokens internal/policy:FuzzParseClientID internal/policy:FuzzPolicy
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

test-tools:
	$(call go-install,github.com/fullstorydev/grpcurl/cmd/grpcurl,$(GRPCURL_VERSION),grpcurl)
	$(call go-install,github.com/grpc-ecosystem/grpc-health-probe,$(HEALTH_PROBE_VERSION),grpc-health-probe)

tools: test-tools
	$(call go-install,github.com/bufbuild/buf/cmd/buf,$(BUF_VERSION),buf)
	$(call go-install,google.golang.org/protobuf/cmd/protoc-gen-go,$(PROTOC_GEN_GO_VERSION),protoc-gen-go)
	$(call go-install,google.golang.org/grpc/cmd/protoc-gen-go-grpc,$(PROTOC_GEN_GO_GRPC_VERSION),protoc-gen-go-grpc)

# The Python client's code comes from Debian's protoc and gRPC plugin
# (protobuf-compiler, protobuf-compiler-grpc), matching the python3-grpcio
# it runs on; the Node client loads the proto at run time.
generate: tools
	buf format -w
	buf generate
	clients/python/generate.sh

# Fails when the committed generated code differs from what the pinned
# plugins produce.
check-generated: generate
	@git diff --exit-code -- proto/ || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto/ clients/python/procd_client/_gen)" || { git status --porcelain -- proto/ clients/python/procd_client/_gen; echo "generated code is stale or untracked: run make generate and commit"; exit 1; }

lint-tools:
	$(call go-install,honnef.co/go/tools/cmd/staticcheck,$(STATICCHECK_VERSION),staticcheck)
	$(call go-install,golang.org/x/vuln/cmd/govulncheck,$(GOVULNCHECK_VERSION),govulncheck)

# Everything make test leaves out to keep CI short: the proto's style and
# compatibility, formatting, vet on every OS, staticcheck, govulncheck and
# the deps test (internal/archtest, which make test runs too).
lint: tools lint-tools
	buf lint
	buf format -d --exit-code
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'); echo "gofmt needed"; exit 1; }
	GOOS=linux $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	$(GO) test -count=1 ./internal/archtest
	@$(MAKE) --no-print-directory breaking staticcheck vulncheck

# buf breaking compares the proto with two baselines: the last commit on
# main that changed it (what a branch's change is held to), and the
# version before that one (so main's own latest change is checked too).
# Each baseline is exported with git archive (buf's own git input clones
# the repository, slowly, and misreads a worktree). PROTO_BASE overrides
# the first; a clone without main uses HEAD's history.
PROTO      := proto/procd/v1/procd.proto
PROTO_BASE ?= $(shell git rev-parse -q --verify main >/dev/null && git log -1 --format=%H main -- $(PROTO) || git log -1 --format=%H HEAD -- $(PROTO))
breaking: tools
	@test -n "$(PROTO_BASE)" || { echo "buf breaking: no commit changed $(PROTO); nothing to compare with"; exit 1; }
	@prev=$$(git log -1 --format=%H $(PROTO_BASE)~1 -- $(PROTO) 2>/dev/null); \
	for rev in $(PROTO_BASE) $$prev; do \
		dir=$$(mktemp -d) && git archive $$rev buf.yaml proto | tar -x -C $$dir && \
		echo "buf breaking against $$rev" && buf breaking --against $$dir; st=$$?; rm -rf $$dir; \
		[ $$st = 0 ] || exit $$st; \
	done

# Both build tag sets: release code, and the fault-injection build.
staticcheck: lint-tools
	staticcheck ./...
	staticcheck -tags faults ./internal/faults ./internal/output ./internal/manager ./internal/proc ./internal/daemon

# govulncheck reads the Go vulnerability database at vuln.go.dev when it can
# be reached. Where it cannot (CI here has no internet but the module
# proxy), it reads a local copy built from golang.org/x/vulndb, which the
# module proxy serves with every report as OSV JSON: indexdb (the vulndb
# repository's own tool, pinned to the same commit) turns those into a v1
# database. VULNDB_VERSION pins that snapshot; the output gives its date.
# GOVULNDB=URL overrides both. internal/vulngate then fails on any
# reachable advisory not accepted, with a reason, in vulncheck-accept.txt.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB_DIR     := $(TOOLS)/vulndb-$(VULNDB_VERSION)
GOVULNDB       ?=
vulncheck: lint-tools
	@db="$(GOVULNDB)"; \
	if [ -z "$$db" ] && curl -fsS --max-time 10 -o /dev/null https://vuln.go.dev/index/db.json 2>/dev/null; then db=https://vuln.go.dev; fi; \
	if [ -z "$$db" ]; then \
		echo "govulncheck: vuln.go.dev cannot be reached; using the golang.org/x/vulndb snapshot $(VULNDB_VERSION) from the module proxy"; \
		$(MAKE) --no-print-directory $(VULNDB_DIR)/index/db.json || exit 1; db=file://$(VULNDB_DIR); \
	fi; \
	echo "govulncheck -db $$db -json ./... | vulngate"; \
	govulncheck -db $$db -json ./... > $(TOOLS)/govulncheck.json || exit 1; \
	$(GO) run ./internal/vulngate -accept vulncheck-accept.txt < $(TOOLS)/govulncheck.json

$(VULNDB_DIR)/index/db.json:
	$(call go-install,golang.org/x/vulndb/cmd/indexdb,$(VULNDB_VERSION),indexdb)
	@src=$$(cd / && $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -d "$$src/data/osv" || { echo "golang.org/x/vulndb@$(VULNDB_VERSION) has no data/osv"; exit 1; }; \
	rm -rf $(VULNDB_DIR) $(VULNDB_DIR).tmp && indexdb -vulns $$src/data/osv -out $(VULNDB_DIR).tmp && \
	stamp=$$(echo $(VULNDB_VERSION) | sed -E 's/^v0\.0\.0-([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})-.*/\1-\2-\3T\4:\5:\6Z/') && \
	printf '{"modified":"%s"}' "$$stamp" > $(VULNDB_DIR).tmp/index/db.json && gzip -cn $(VULNDB_DIR).tmp/index/db.json > $(VULNDB_DIR).tmp/index/db.json.gz && \
	mv $(VULNDB_DIR).tmp $(VULNDB_DIR) && echo "vulnerability database: $$(ls $$src/data/osv | wc -l) reports as of $$stamp in $(VULNDB_DIR)"

# The same scan under a newer toolchain (VULN_TOOLCHAIN, which the module
# proxy serves; the go command downloads it, about 76 MB), with a govulncheck
# built by that toolchain: it shows that what vulncheck-accept.txt accepts is
# the machine's Go and nothing in procd's code or modules. Not part of lint.
VULN_TOOLCHAIN ?= go1.27.3
vulncheck-toolchain: $(VULNDB_DIR)/index/db.json
	GOTOOLCHAIN=$(VULN_TOOLCHAIN) GOBIN=$(TOOLS)/$(VULN_TOOLCHAIN) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	GOTOOLCHAIN=$(VULN_TOOLCHAIN) $(TOOLS)/$(VULN_TOOLCHAIN)/govulncheck -db file://$(VULNDB_DIR) ./...

# The benchmark table (BENCHMARKS.md): every row beside its baseline,
# measured in the same run, as a ratio. BENCHFLAGS passes options to
# procd-bench (-rows P1,P5; -profile DIR for the daemon's CPU profiles;
# -quick). Then the package micro-benchmarks. GNU parallel (a P5 baseline)
# and a C compiler (the P1 posix_spawn baseline) are installed when
# possible (Debian packages, as root).
BENCHFLAGS ?=
bench: bench-tools build
	$(GO) build -o $(BIN)/ ./cmd/procd-bench
	./$(BIN)/procd-bench -procd $(BIN)/procd -procctl $(BIN)/procctl $(BENCHFLAGS)
	$(GO) test -run '^$$' -bench . -benchmem ./internal/output ./internal/watchdog ./internal/events

bench-tools:
	@need=""; command -v parallel >/dev/null || need="$$need parallel"; \
	command -v cc >/dev/null || need="$$need gcc libc6-dev"; \
	if [ -n "$$need" ]; then \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need >/dev/null; } || \
		echo "could not install$$need: the rows' baselines that need them are skipped"; \
	fi

clean:
	rm -rf $(BIN)
