# signet's two everyday commands: `make demo` and `make test`.
.PHONY: demo test tools bench build

## demo: start signet on its embedded defaults, sign a file and verify it
demo:
	./test/demo.sh

## test: install the real test tools (cached by version) and run every test
test:
	@eval "$$(./test/tools/install.sh)" && go vet ./... && go test -count=1 -timeout 40m ./...

## tools: only install the test tools (cosign v3 and v2, sigstore-go examples, gh, sigstore-js, vault)
tools:
	./test/tools/install.sh >/dev/null

## bench: the in-process one-shot benchmark
bench:
	go test -run '^$$' -bench . -benchmem ./keyless/

## build: the signet binary into bin/
build:
	go build -o bin/signet ./cmd/signet
