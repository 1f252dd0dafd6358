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
#   SERVER_BIN  a signet binary to serve with instead of this tree's (an
#               older build, for before and after); load still uses this tree's
set -euo pipefail
cd "$(dirname "$0")/../.."
REQUESTS=${REQUESTS:-1500}
LEVELS=${LEVELS:-"1 4 16 64"}
TOOLS_DIR=${SIGNET_TOOLS_DIR:-$HOME/.cache/signet-tools}
FULCIO=$TOOLS_DIR/fulcio-v1.8.8/fulcio
TSA=$TOOLS_DIR/timestamp-server-v2.1.3/timestamp-server
[[ -x $FULCIO ]] || GOBIN=$(dirname "$FULCIO") go install github.com/sigstore/fulcio@v1.8.8
[[ -x $TSA ]] || GOBIN=$(dirname "$TSA") go install github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server@v2.1.3
vault_env=$(./test/tools/install.sh vault) # apart, so that a failed install stops the script
eval "$vault_env"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/signet" ./cmd/signet
server_bin=${SERVER_BIN:-$work/signet}
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
	"$server_bin" serve --config "$conf" --addr "127.0.0.1:$PORT" "$@" >"$work/$name.log" 2>&1 &
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
vault_pid=$!
export VAULT_ADDR="http://127.0.0.1:$vp" VAULT_TOKEN=root
wait_http "$VAULT_ADDR/v1/sys/health"
"$server_bin" ca init --backend vault --out "$work/vault-init.yaml" >/dev/null
sed '/^log:/,$d' "$work/vault-init.yaml" >"$work/vault.yaml"
printf 'log:\n  type: "off"\n' >>"$work/vault.yaml"
start_signet signet-vault "$work/vault.yaml" --identity-config "$work/fulcio.yaml"
pvault=$PORT pvault_pid=$PID
curl -fsS "http://127.0.0.1:$pvault/api/v1/rootCert" >"$work/vault-chain.pem"

fp=$(port) fkp=$(port) tp=$(port)
"$FULCIO" serve --ca ephemeralca --ct-log-url "" --config-path "$work/fulcio.yaml" --host 127.0.0.1 --port "$fp" \
	--grpc-port "$(port)" --metrics-port "$(port)" --legacy-unix-domain-socket "$work/fulcio.sock" >"$work/fulcio.log" 2>&1 &
started $!
fulcio_pid=$!
"$FULCIO" serve --ca kmsca --kms-resource hashivault://signet-ca --kms-cert-chain-path "$work/vault-chain.pem" \
	--ct-log-url "" --config-path "$work/fulcio.yaml" --host 127.0.0.1 --port "$fkp" \
	--grpc-port "$(port)" --metrics-port "$(port)" --legacy-unix-domain-socket "$work/fulcio-kms.sock" >"$work/fulcio-kms.log" 2>&1 &
started $!
fulciokms_pid=$!
"$TSA" serve --timestamp-signer memory --host 127.0.0.1 --port "$tp" --enable-pprof=false >"$work/tsa.log" 2>&1 &
started $!
tsa_pid=$!
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
# cputicks PID...: their CPU time so far, in clock ticks.
cputicks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))
# The setups, each "label|issuer|server|mode|tsa-url|server pids"; every level runs
# all of them back to back, so each ratio compares runs made within
# seconds of each other (this VM's speed drifts by a quarter over minutes).
own() { echo "http://127.0.0.1:$1/dev/oidc"; }
setups=(
	"signet one-shot, memory keys P-384|$(own "$p384")|http://127.0.0.1:$p384|one-shot||$p384_pid"
	"signet one-shot, memory keys P-256|$issuer|http://127.0.0.1:$p256|one-shot||$p256_pid"
	"Fulcio v1.8.8 ephemeral CA + timestamp-server v2.1.3 memory (P-256)|$issuer|http://127.0.0.1:$fp|fulcio-tsa|$tsa|$fulcio_pid $tsa_pid"
	"signet one-shot, CA and TSA keys in Vault transit P-384|$issuer|http://127.0.0.1:$pvault|one-shot||$pvault_pid $vault_pid"
	"Fulcio v1.8.8 kmsca (Vault transit P-384) + timestamp-server v2.1.3 memory|$issuer|http://127.0.0.1:$fkp|fulcio-tsa|$tsa|$fulciokms_pid $tsa_pid $vault_pid"
	"signet one-shot, memory keys P-384, issuance log on (POSIX)|$(own "$p384log")|http://127.0.0.1:$p384log|one-shot||$p384log_pid"
)
rows=() maxes=() cpus=()
for i in "${!setups[@]}"; do rows[i]="| ${setups[i]%%|*} |" maxes[i]=0; done
top_level=${LEVELS##* }
for c in $LEVELS; do
	for i in "${!setups[@]}"; do
		IFS='|' read -r _ iss srv mode tsaurl spids <<<"${setups[i]}"
		# shellcheck disable=SC2086 # spids is a list
		t0=$(cputicks $spids)
		out=$(ACTIONS_ID_TOKEN_REQUEST_URL="$iss/token?api-version=2.0" /usr/bin/time -f 'loadcpu %U %S' -o "$work/time" \
			"$work/signet" load --server "$srv" --mode "$mode" ${tsaurl:+--tsa-url "$tsaurl"} --clients "$c" --requests "$REQUESTS")
		# shellcheck disable=SC2086
		t1=$(cputicks $spids)
		bps=$(sed -n 's/^bundles\/s: //p' <<<"$out")
		if [[ $c == "$top_level" ]]; then
			cpus[i]="$(((t1 - t0) * tick_us / REQUESTS)) us server, $(awk -v r="$REQUESTS" '/loadcpu/{printf "%.0f", ($2+$3)*1e6/r}' "$work/time") us load generator"
		fi
		rows[i]+=" ${bps}/s ($(sed -n 's/^latency p50: .*p99: \(.*\)$/p99 \1/p' <<<"$out")) |"
		maxes[i]=$(awk -v a="${maxes[i]}" -v b="$bps" 'BEGIN{print (b>a)?b:a}')
	done
done
m384=${maxes[0]} m256=${maxes[1]} mfulcio=${maxes[2]} mvault=${maxes[3]} mfulciokms=${maxes[4]} mlog=${maxes[5]}
# half ISSUER SERVER MAXBPS: p99 at half of MAXBPS, open loop, and the
# rate; a run with failed requests says so instead of a figure.
half() {
	local rate out
	rate=$(awk -v m="$3" 'BEGIN{printf "%.0f", m/2}')
	if out=$(load "$1" --server "$2" --clients 64 --requests "$REQUESTS" --rate "$rate" 2>&1); then
		echo "$(sed -n 's/^latency p50: .*p99: \(.*\)$/\1/p' <<<"$out") at $rate/s"
	else
		echo "FAILED at $rate/s ($(tail -1 <<<"$out"))"
	fi
}
rss() { awk '/VmHWM/{printf "%.0f MiB", $2/1024}' "/proc/$1/status"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f%%", 100*a/b}'; }

echo
echo "| setup | $(sed 's/\([0-9]*\)/c=\1 |/g' <<<"$LEVELS")"
echo "|---|$(sed 's/[0-9]*/---|/g' <<<"$LEVELS" | tr -d ' ')"
printf '%s\n' "${rows[@]}"

echo
echo "memory keys, P-256: signet $m256/s vs Fulcio + TSA $mfulcio/s: $(ratio "$m256" "$mfulcio")x (goal >= 2.5x); Fulcio + TSA reach $(pct "$mfulcio" "$floor256") of the P-256 floor ($floor256/s), signet $(pct "$m256" "$floor256")"
echo "memory keys, P-384: signet $m384/s, $(pct "$m384" "$floor384") of the P-384 floor ($floor384/s) (goal >= 75%)"
echo "Vault transit, P-384: signet $mvault/s vs Fulcio kmsca + TSA $mfulciokms/s: $(ratio "$mvault" "$mfulciokms")x (goal >= 2x)"
echo "issuance log on (POSIX): signet P-384 $mlog/s, $(pct "$mlog" "$m384") of log off (goal >= 85%)"
echo "p99 at half of max (goal <= 25 ms): memory P-384 $(half "$(own "$p384")" "http://127.0.0.1:$p384" "$m384")," \
	"memory P-256 $(half "$issuer" "http://127.0.0.1:$p256" "$m256")," \
	"Vault $(half "$issuer" "http://127.0.0.1:$pvault" "$mvault")," \
	"log on $(half "$(own "$p384log")" "http://127.0.0.1:$p384log" "$m384") (the log-off rate)"
echo "peak RSS (goal <= 100 MiB): signet P-384 $(rss "$p384_pid"), P-256 $(rss "$p256_pid"), Vault $(rss "$pvault_pid"), log on $(rss "$p384log_pid")"
echo "CPU per bundle at $top_level clients (servers: signet, or Fulcio + TSA; plus Vault where it signs):"
for i in "${!setups[@]}"; do echo "  ${setups[i]%%|*}: ${cpus[i]}"; done
