#!/usr/bin/env bash
# compare.sh measures signet's one-shot endpoint side by side with Fulcio
# v1.8.8 (ephemeral CA, no CT log) + sigstore's timestamp-server v2.1.3
# (memory signer) on this machine, with one closed-loop load generator
# (`signet load`, which makes its keys, proofs and signatures like a real
# client): a bundle is a certificate plus a timestamp. Loopback only,
# bounded by REQUESTS per level. The Fulcio and TSA binaries are built once
# into the tool cache (`go install`, about 1.5 min each).
#   REQUESTS  requests per level (default 1500)
#   LEVELS    client counts (default "1 4 16 64")
set -euo pipefail
cd "$(dirname "$0")/../.."
REQUESTS=${REQUESTS:-1500}
LEVELS=${LEVELS:-"1 4 16 64"}
TOOLS_DIR=${SIGNET_TOOLS_DIR:-$HOME/.cache/signet-tools}
FULCIO=$TOOLS_DIR/fulcio-v1.8.8/fulcio
TSA=$TOOLS_DIR/timestamp-server-v2.1.3/timestamp-server
[[ -x $FULCIO ]] || GOBIN=$(dirname "$FULCIO") go install github.com/sigstore/fulcio@v1.8.8
[[ -x $TSA ]] || GOBIN=$(dirname "$TSA") go install github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server@v2.1.3
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/signet" ./cmd/signet
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "not up: $1" >&2; return 1; }

# signet --dev with its issuer (every token comes from its runner endpoint,
# Fulcio trusts the same issuer), log off: the log's cost is measured apart.
run_signet() { # name keytype
	local p; p=$(port)
	printf 'log:\n  type: "off"\nca:\n  type: memory\n  key-type: %s\ntsa:\n  type: memory\n  key-type: %s\n' "$2" "$2" >"$work/$1.yaml"
	"$work/signet" serve --dev --config "$work/$1.yaml" --addr "127.0.0.1:$p" >"$work/$1.log" 2>&1 &
	pids+=($!)
	wait_http "http://127.0.0.1:$p/readyz"
	echo "$p"
}
p384=$(run_signet signet-p384 ecdsa-p384)
p256=$(run_signet signet-p256 ecdsa-p256)
issuer="http://127.0.0.1:$p256/dev/oidc"
export ACTIONS_ID_TOKEN_REQUEST_TOKEN=signet-dev-insecure

fp=$(port) tp=$(port)
printf 'oidc-issuers:\n  %s:\n    issuer-url: %s\n    client-id: sigstore\n    type: github-workflow\n' "$issuer" "$issuer" >"$work/fulcio.yaml"
"$FULCIO" serve --ca ephemeralca --ct-log-url "" --config-path "$work/fulcio.yaml" --host 127.0.0.1 --port "$fp" \
	--grpc-port "$(port)" --metrics-port "$(port)" >"$work/fulcio.log" 2>&1 &
pids+=($!)
"$TSA" serve --timestamp-signer memory --host 127.0.0.1 --port "$tp" --enable-pprof=false >"$work/tsa.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$fp/api/v2/configuration"
wait_http "http://127.0.0.1:$tp/api/v1/timestamp/certchain"

measure() { # label issuer server mode [tsa-url]
	local line="| $1 |"
	for c in $LEVELS; do
		local out
		out=$(ACTIONS_ID_TOKEN_REQUEST_URL="$2/token?api-version=2.0" "$work/signet" load --server "$3" --mode "$4" ${5:+--tsa-url "$5"} --clients "$c" --requests "$REQUESTS")
		line+=" $(sed -n 's/^bundles\/s: //p' <<<"$out")/s ($(sed -n 's/^latency p50: .*p99: \(.*\)$/p99 \1/p' <<<"$out")) |"
	done
	echo "$line"
}
echo "| setup | $(sed 's/\([0-9]*\)/c=\1 |/g' <<<"$LEVELS")"
echo "|---|$(sed 's/[0-9]*/---|/g' <<<"$LEVELS" | tr -d ' ')"
measure "signet one-shot, memory keys P-384" "http://127.0.0.1:$p384/dev/oidc" "http://127.0.0.1:$p384" one-shot
measure "signet one-shot, memory keys P-256" "$issuer" "http://127.0.0.1:$p256" one-shot
measure "Fulcio v1.8.8 ephemeral CA + timestamp-server v2.1.3 memory" "$issuer" "http://127.0.0.1:$fp" fulcio-tsa "http://127.0.0.1:$tp/api/v1/timestamp"
