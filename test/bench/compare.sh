#!/usr/bin/env bash
# compare.sh measures signet's one-shot endpoint side by side with Fulcio
# v1.8.8 + sigstore's timestamp-server v2.1.3 on this machine, with one
# closed-loop load generator (`signet load`, which makes its keys, proofs
# and signatures like a real client; a bundle is a certificate plus a
# timestamp), and the crypto floor measured in the same run
# (test/bench/floor). Modes:
#   memory keys: signet P-384 and P-256 against Fulcio's ephemeral CA and
#     the TSA's memory signer (both P-256);
#   Vault transit P-384: signet's CA and TSA keys against Fulcio's kmsca
#     on the same transit key (the TSA keeps its memory key), one Vault
#     dev server;
#   the issuance log on (POSIX, in a temporary directory) for signet P-384.
# Then p99 at half of each signet mode's max bundles/s (open loop) and the
# peak RSS of each signet server. Loopback only, bounded by REQUESTS per
# level. Fulcio, the TSA and Vault are built once into the tool cache.
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
eval "$(./test/tools/install.sh vault)"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/signet" ./cmd/signet
go build -o "$work/floor" ./test/bench/floor
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "not up: $1" >&2; return 1; }
started() { pids+=("$1"); }

# The crypto floor first, on an idle machine.
"$work/floor" -curve P-384 | tee "$work/floor-p384"
"$work/floor" -curve P-256 | tee "$work/floor-p256"
floor384=$(sed -n 's/.* cores: \([0-9]*\) bundles.*/\1/p' "$work/floor-p384")
floor256=$(sed -n 's/.* cores: \([0-9]*\) bundles.*/\1/p' "$work/floor-p256")

# start_signet NAME CONFIG [ARGS...]: signet serve on a free port; sets
# PORT and PID. A --dev server's tokens come from its own dev issuer; the
# Vault server and both Fulcios trust the P-256 server's.
start_signet() {
	local name=$1 conf=$2
	shift 2
	PORT=$(port)
	"$work/signet" serve --config "$conf" --addr "127.0.0.1:$PORT" "$@" >"$work/$name.log" 2>&1 &
	PID=$!
	started "$PID"
	wait_http "http://127.0.0.1:$PORT/readyz" || { tail -3 "$work/$name.log" >&2; return 1; }
}
memory_config() { # keytype [log]: --dev logs to a temporary directory
	[[ -n ${2:-} ]] || printf 'log:\n  type: "off"\n'
	printf 'ca:\n  type: memory\n  key-type: %s\ntsa:\n  type: memory\n  key-type: %s\n' "$1" "$1"
}
memory_config ecdsa-p256 >"$work/p256.yaml"
start_signet signet-p256 "$work/p256.yaml" --dev
p256=$PORT p256_pid=$PID
issuer="http://127.0.0.1:$p256/dev/oidc"
export ACTIONS_ID_TOKEN_REQUEST_TOKEN=signet-dev-insecure
printf 'oidc-issuers:\n  %s:\n    issuer-url: %s\n    client-id: sigstore\n    type: github-workflow\n' "$issuer" "$issuer" >"$work/fulcio.yaml"
memory_config ecdsa-p384 >"$work/p384.yaml"
start_signet signet-p384 "$work/p384.yaml" --dev
p384=$PORT p384_pid=$PID
memory_config ecdsa-p384 log >"$work/p384-log.yaml"
start_signet signet-p384-log "$work/p384-log.yaml" --dev
p384log=$PORT p384log_pid=$PID

# Vault dev server; `signet ca init` makes the transit keys and chains.
vp=$(port)
"$SIGNET_VAULT" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$vp" >"$work/vault.log" 2>&1 &
started $!
export VAULT_ADDR="http://127.0.0.1:$vp" VAULT_TOKEN=root
wait_http "$VAULT_ADDR/v1/sys/health"
"$work/signet" ca init --backend vault --out "$work/vault-init.yaml" >/dev/null
sed '/^log:/,$d' "$work/vault-init.yaml" >"$work/vault.yaml"
printf 'log:\n  type: "off"\n' >>"$work/vault.yaml"
start_signet signet-vault "$work/vault.yaml" --identity-config "$work/fulcio.yaml"
pvault=$PORT pvault_pid=$PID
curl -fsS "http://127.0.0.1:$pvault/api/v1/rootCert" >"$work/vault-chain.pem"

fp=$(port) fkp=$(port) tp=$(port)
"$FULCIO" serve --ca ephemeralca --ct-log-url "" --config-path "$work/fulcio.yaml" --host 127.0.0.1 --port "$fp" \
	--grpc-port "$(port)" --metrics-port "$(port)" --legacy-unix-domain-socket "$work/fulcio.sock" >"$work/fulcio.log" 2>&1 &
started $!
"$FULCIO" serve --ca kmsca --kms-resource hashivault://signet-ca --kms-cert-chain-path "$work/vault-chain.pem" \
	--ct-log-url "" --config-path "$work/fulcio.yaml" --host 127.0.0.1 --port "$fkp" \
	--grpc-port "$(port)" --metrics-port "$(port)" --legacy-unix-domain-socket "$work/fulcio-kms.sock" >"$work/fulcio-kms.log" 2>&1 &
started $!
"$TSA" serve --timestamp-signer memory --host 127.0.0.1 --port "$tp" --enable-pprof=false >"$work/tsa.log" 2>&1 &
started $!
wait_http "http://127.0.0.1:$fp/api/v2/configuration" || { tail -3 "$work/fulcio.log" >&2; exit 1; }
wait_http "http://127.0.0.1:$fkp/api/v2/configuration" || { tail -3 "$work/fulcio-kms.log" >&2; exit 1; }
wait_http "http://127.0.0.1:$tp/api/v1/timestamp/certchain" || { tail -3 "$work/tsa.log" >&2; exit 1; }
tsa="http://127.0.0.1:$tp/api/v1/timestamp"

# load ISSUER ARGS...: signet load with tokens from ISSUER.
load() {
	local issuer=$1
	shift
	ACTIONS_ID_TOKEN_REQUEST_URL="$issuer/token?api-version=2.0" "$work/signet" load "$@"
}
# measure LABEL ISSUER SERVER MODE [TSA-URL]: one table row; sets MAX (the
# best bundles/s over the levels).
measure() {
	local line="| $1 |" out bps
	MAX=0
	for c in $LEVELS; do
		out=$(load "$2" --server "$3" --mode "$4" ${5:+--tsa-url "$5"} --clients "$c" --requests "$REQUESTS")
		bps=$(sed -n 's/^bundles\/s: //p' <<<"$out")
		line+=" ${bps}/s ($(sed -n 's/^latency p50: .*p99: \(.*\)$/p99 \1/p' <<<"$out")) |"
		MAX=$(awk -v a="$MAX" -v b="$bps" 'BEGIN{print (b>a)?b:a}')
	done
	echo "$line"
}
# half ISSUER SERVER MAXBPS: p99 at half of MAXBPS, open loop.
half() {
	load "$1" --server "$2" --clients 64 --requests "$REQUESTS" \
		--rate "$(awk -v m="$3" 'BEGIN{printf "%.0f", m/2}')" | sed -n 's/^latency p50: .*p99: \(.*\)$/\1/p'
}
rss() { awk '/VmHWM/{printf "%.0f MiB", $2/1024}' "/proc/$1/status"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f%%", 100*a/b}'; }

echo
echo "| setup | $(sed 's/\([0-9]*\)/c=\1 |/g' <<<"$LEVELS")"
echo "|---|$(sed 's/[0-9]*/---|/g' <<<"$LEVELS" | tr -d ' ')"
own() { echo "http://127.0.0.1:$1/dev/oidc"; }
measure "signet one-shot, memory keys P-384" "$(own "$p384")" "http://127.0.0.1:$p384" one-shot
m384=$MAX
measure "signet one-shot, memory keys P-256" "$issuer" "http://127.0.0.1:$p256" one-shot
m256=$MAX
measure "Fulcio v1.8.8 ephemeral CA + timestamp-server v2.1.3 memory (P-256)" "$issuer" "http://127.0.0.1:$fp" fulcio-tsa "$tsa"
mfulcio=$MAX
measure "signet one-shot, CA and TSA keys in Vault transit P-384" "$issuer" "http://127.0.0.1:$pvault" one-shot
mvault=$MAX
measure "Fulcio v1.8.8 kmsca (Vault transit P-384) + timestamp-server v2.1.3 memory" "$issuer" "http://127.0.0.1:$fkp" fulcio-tsa "$tsa"
mfulciokms=$MAX
measure "signet one-shot, memory keys P-384, issuance log on (POSIX)" "$(own "$p384log")" "http://127.0.0.1:$p384log" one-shot
mlog=$MAX

echo
echo "memory keys, P-256: signet $m256/s vs Fulcio + TSA $mfulcio/s: $(ratio "$m256" "$mfulcio")x (goal >= 2.5x); Fulcio + TSA reach $(pct "$mfulcio" "$floor256") of the P-256 floor ($floor256/s), signet $(pct "$m256" "$floor256")"
echo "memory keys, P-384: signet $m384/s, $(pct "$m384" "$floor384") of the P-384 floor ($floor384/s) (goal >= 75%)"
echo "Vault transit, P-384: signet $mvault/s vs Fulcio kmsca + TSA $mfulciokms/s: $(ratio "$mvault" "$mfulciokms")x (goal >= 2x)"
echo "issuance log on (POSIX): signet P-384 $mlog/s, $(pct "$mlog" "$m384") of log off (goal >= 85%)"
echo "p99 at half of max (goal <= 25 ms): memory P-384 $(half "$(own "$p384")" "http://127.0.0.1:$p384" "$m384") at $(awk -v m="$m384" 'BEGIN{printf "%.0f", m/2}')/s," \
	"memory P-256 $(half "$issuer" "http://127.0.0.1:$p256" "$m256") at $(awk -v m="$m256" 'BEGIN{printf "%.0f", m/2}')/s," \
	"Vault $(half "$issuer" "http://127.0.0.1:$pvault" "$mvault") at $(awk -v m="$mvault" 'BEGIN{printf "%.0f", m/2}')/s," \
	"log on $(half "$(own "$p384log")" "http://127.0.0.1:$p384log" "$m384") at $(awk -v m="$m384" 'BEGIN{printf "%.0f", m/2}')/s (the log-off rate)"
echo "peak RSS (goal <= 100 MiB): signet P-384 $(rss "$p384_pid"), P-256 $(rss "$p256_pid"), Vault $(rss "$pvault_pid"), log on $(rss "$p384log_pid")"
