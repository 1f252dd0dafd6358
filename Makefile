# signet's two everyday commands: `make demo` and `make test`.
.PHONY: demo test test-clock-shift test-chart bench-compare tools bench build

# IN_PROCESS_PKGS are the packages whose tests run no real process that reads
# the wall clock (no signet binary, no Vault): they take every time from
# test/testclock and so can be run as if on another date. Moved ahead,
# keyless/httpapi is left out: sigstore-go checks the CMS signing-time of
# each timestamp against the TSA certificate, and digitorus/pkcs7 writes
# that attribute from the wall clock (it takes no clock).
IN_PROCESS_PKGS = $$(go list ./... | grep -v -e /test/e2e -e /test/vaultdev)
AHEAD_PKGS = $$(go list ./... | grep -v -e /test/e2e -e /test/vaultdev -e /keyless/httpapi$$)

## demo: start signet on its embedded defaults, sign a file and verify it
demo:
	./test/demo.sh

## test: install the real test tools (cached by version) and run every test
## (on a failure, what failed is repeated last, where a CI log's tail shows it)
test:
	@eval "$$(./test/tools/install.sh)" && go vet ./... && ./test/failures-last.sh go test -count=1 -timeout 40m ./...
	@$(MAKE) --no-print-directory test-clock-shift
	@$(MAKE) --no-print-directory test-chart

## bench-compare: signet against Fulcio v1.8.8 + timestamp-server v2.1.3 (memory keys, Vault transit, log on) with the crypto floor, on this machine
bench-compare:
	./test/bench/compare.sh

## test-chart: render the Helm chart with Helm's Go SDK (a tool module: go test ./... does not enter it)
test-chart:
	cd test/tools/helmchart && go vet . && go test -count=1 .

## test-clock-shift: the in-process tests again with their clock a year back and a year ahead
test-clock-shift:
	SIGNET_TEST_CLOCK_SHIFT=-8760h go test -count=1 $(IN_PROCESS_PKGS)
	SIGNET_TEST_CLOCK_SHIFT=8760h go test -count=1 $(AHEAD_PKGS)

## tools: only install the test tools (cosign v3 and v2, sigstore-go examples, gh, sigstore-js, vault)
tools:
	./test/tools/install.sh >/dev/null

## bench: the in-process one-shot benchmark
bench:
	go test -run '^$$' -bench . -benchmem ./keyless/httpapi/

# LDFLAGS stamp the VCS revision (this machine's Go builds with -buildvcs=false).
REVISION ?= $$(git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS = -X github.com/signet-dev/signet/internal/version.revision=$(REVISION)

## build: the signet binary into bin/, stamped with its revision
build:
	go build -ldflags "$(LDFLAGS)" -o bin/signet ./cmd/signet

# FUZZ_TARGETS are the Go fuzz targets, as package:FuzzName; `make fuzz` runs
# them one after another (the Go fuzzer takes one target per run), each for
# FUZZTIME with one worker. New crashers land in <package>/testdata/fuzz/.
# FUZZMINIMIZETIME bounds the minimization of each new input: Go's default,
# 60s, can eat a whole short run on the config and policy targets.
FUZZTIME ?= 10s
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS = \
	identity:FuzzUnverifiedIssuer \
	identity:FuzzSPIFFEID \
	identity:FuzzDecodeClaims \
	identity:FuzzPrincipalFor \
	identity:FuzzParseConfig \
	identity:FuzzNewPolicy \
	keyless/httpapi:FuzzParsePublicKey \
	keyless/httpapi:FuzzParseCSR \
	keyless/httpapi:FuzzAPIBodies \
	keyless/httpapi:FuzzSigningCertV1 \
	keyless/httpapi:FuzzSigningCertV2 \
	keyless/httpapi:FuzzSign \
	keyless/httpapi:FuzzBearerToken \
	tsa:FuzzTimestampRequest \
	config:FuzzParse \
	issuancelog:FuzzTilePath \
	issuancelog/audit:FuzzParseEntry \
	issuancelog/internal/tlog:FuzzOpenCheckpoint \
	tufrepo:FuzzHandlerPath

## fuzz: run every fuzz target for FUZZTIME each (default 10s), one at a time: make fuzz FUZZTIME=2m
.PHONY: fuzz
fuzz:
	@failed=""; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "== ./$$pkg $$name for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -parallel 1 ./$$pkg || failed="$$failed $$pkg:$$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi
