# signet's two everyday commands: `make demo` and `make test`.
.PHONY: demo test test-clock-shift tools bench build

# IN_PROCESS_PKGS are the packages whose tests run no real process that reads
# the wall clock (no signet binary, no Vault): they take every time from
# test/testclock and so can be run as if on another date. Moved ahead, keyless
# is left out: sigstore-go checks the CMS signing-time of each timestamp
# against the TSA certificate, and digitorus/pkcs7 writes that attribute
# from the wall clock (it takes no clock).
IN_PROCESS_PKGS = $$(go list ./... | grep -v -e /test/e2e -e /test/vaultdev)
AHEAD_PKGS = $$(go list ./... | grep -v -e /test/e2e -e /test/vaultdev -e /keyless$$)

## demo: start signet on its embedded defaults, sign a file and verify it
demo:
	./test/demo.sh

## test: install the real test tools (cached by version) and run every test
test:
	@eval "$$(./test/tools/install.sh)" && go vet ./... && go test -count=1 -timeout 40m ./...
	@$(MAKE) --no-print-directory test-clock-shift

## test-clock-shift: the in-process tests again with their clock a year back and a year ahead
test-clock-shift:
	SIGNET_TEST_CLOCK_SHIFT=-8760h go test -count=1 $(IN_PROCESS_PKGS)
	SIGNET_TEST_CLOCK_SHIFT=8760h go test -count=1 $(AHEAD_PKGS)

## tools: only install the test tools (cosign v3 and v2, sigstore-go examples, gh, sigstore-js, vault)
tools:
	./test/tools/install.sh >/dev/null

## bench: the in-process one-shot benchmark
bench:
	go test -run '^$$' -bench . -benchmem ./keyless/

## build: the signet binary into bin/
build:
	go build -o bin/signet ./cmd/signet
