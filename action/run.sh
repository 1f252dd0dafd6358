#!/usr/bin/env bash
# The shell step of signet's GitHub Action (action.yml): builds signet from
# the action's checkout, then signs or attests every file the glob matches,
# writing each bundle next to its file, and lists the bundles in the step's
# `bundles` output. It reads the inputs from INPUT_* and what a runner sets:
# GITHUB_ACTION_PATH, GITHUB_OUTPUT, RUNNER_TEMP and the job's
# ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN.
set -euo pipefail

fail() { echo "::error title=signet::$*" >&2; exit 1; }

[[ -n "${INPUT_SERVER:-}" ]] || fail "input 'server' is empty: set it to your signet server's URL"
[[ -n "${INPUT_FILES:-}" ]] || fail "input 'files' is empty: give a glob of the files to sign"
mode=${INPUT_MODE:-sign}
case "$mode" in
sign | attest) ;;
*) fail "input 'mode' is '$mode': use sign or attest" ;;
esac
if [[ $mode == attest ]]; then
	[[ -n "${INPUT_PREDICATE:-}" ]] || fail "input 'predicate' is empty: attest needs a predicate file"
	[[ -f "$INPUT_PREDICATE" ]] || fail "input 'predicate': no file '$INPUT_PREDICATE'"
fi
[[ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" && -n "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ]] ||
	fail "no OIDC token available: give the job 'permissions: id-token: write'"
: "${GITHUB_ACTION_PATH:?}" "${GITHUB_OUTPUT:?}" "${RUNNER_TEMP:?}"

# The input is several globs separated by spaces or newlines; each is
# expanded once (read splits without globbing), every match is kept whole
# (a name with spaces or brackets is not expanded again), and a file that
# two globs match is signed once.
shopt -s globstar nullglob
read -r -d '' -a patterns <<<"$INPUT_FILES" || true
files=()
declare -A seen=()
for pattern in "${patterns[@]}"; do
	matched=0
	for f in $pattern; do # the pattern holds no whitespace: this only globs
		if [[ ! -f "$f" ]]; then
			echo "::warning title=signet::'$f' (from '$pattern') is not a regular file: not signed" >&2
			continue
		fi
		matched=1
		[[ -n "${seen[$f]:-}" ]] && continue
		seen[$f]=1
		files+=("$f")
	done
	((matched)) || fail "input 'files': '$pattern' matched no file"
done
((${#files[@]})) || fail "input 'files' ('$INPUT_FILES') matched no file"

bin="$RUNNER_TEMP/signet-action/signet"
if [[ ! -x "$bin" ]]; then
	rev=$(git -C "$GITHUB_ACTION_PATH" rev-parse HEAD 2>/dev/null || echo unknown)
	(cd "$GITHUB_ACTION_PATH" && go build -ldflags "-X github.com/signet-dev/signet/internal/version.revision=$rev" -o "$bin" ./cmd/signet)
fi

bundles=()
for f in "${files[@]}"; do
	if [[ $mode == sign ]]; then
		out="$f.sigstore.json"
		"$bin" sign "$f" --server "$INPUT_SERVER" --audience "${INPUT_AUDIENCE:-sigstore}" --bundle "$out"
	else
		out="$f.intoto.sigstore.json"
		"$bin" attest "$f" --server "$INPUT_SERVER" --audience "${INPUT_AUDIENCE:-sigstore}" \
			--predicate "$INPUT_PREDICATE" --type "${INPUT_PREDICATE_TYPE:-https://slsa.dev/provenance/v1}" --bundle "$out"
	fi
	bundles+=("$out")
done

delim="signet-$RANDOM$RANDOM"
{
	echo "bundles<<$delim"
	printf '%s\n' "${bundles[@]}"
	echo "$delim"
} >>"$GITHUB_OUTPUT"
