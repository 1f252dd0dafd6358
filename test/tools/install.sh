#!/usr/bin/env bash
# Installs the external tools that signet's tests run for real, each into a
# cache directory keyed by its version, and skips the work when the binary is
# already there.
#
#   test/tools/install.sh [tool...]      # tools: cosign vault (default: all)
#   eval "$(test/tools/install.sh)"      # sets SIGNET_COSIGN, SIGNET_VAULT
#
# Progress and timings go to stderr; stdout carries only `export NAME=PATH`
# lines. The cache is $SIGNET_TOOLS_DIR, else ~/.cache/signet-tools.
#
# cosign is `go install`ed at a pinned version. Vault has no `go install`
# route (its go.mod has replace directives), so it is built as a tool of the
# nested module test/tools/vault, whose go.mod/go.sum pin Vault and its
# dependencies; that module is separate so that none of it reaches signet's
# own go.mod. A cold Vault build takes 10-15 minutes on 2 cores and peaks at
# about 6 GB of memory (the link); a warm-cache rebuild about a minute.
set -euo pipefail

COSIGN_VERSION=v3.1.3
VAULT_VERSION=v1.21.0 # must match the require in test/tools/vault/go.mod

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS_DIR="${SIGNET_TOOLS_DIR:-$HOME/.cache/signet-tools}"

log() { printf 'install.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
}

# Go flags for building a tool: the user's GOFLAGS without any -mod=, which
# must not leak into `go install pkg@version` or the vault module.
tool_goflags() {
	local f out=()
	for f in ${GOFLAGS:-}; do
		case "$f" in -mod=*) ;; *) out+=("$f") ;; esac
	done
	printf '%s' "${out[*]:-}"
}

# with_lock NAME CMD...: runs CMD holding an exclusive lock on
# $TOOLS_DIR/.NAME.lock, so concurrent callers build a tool only once.
with_lock() {
	local name=$1
	shift
	if command -v flock >/dev/null 2>&1; then
		(
			flock 9
			"$@"
		) 9>"$TOOLS_DIR/.$name.lock"
	else
		"$@"
	fi
}

# elapsed START: seconds since START (from `date +%s`), as "Mm SSs".
elapsed() {
	local s=$(($(date +%s) - $1))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

build_cosign() {
	local dest=$1 tmp
	[[ -x "$dest/cosign" ]] && return 0
	tmp="$(mktemp -d "$TOOLS_DIR/.cosign-build.XXXXXX")"
	# Run outside any module so neither signet's go.mod nor a go.work is
	# consulted or changed.
	if ! (cd "$tmp" && GOWORK=off GOFLAGS="$(tool_goflags)" GOBIN="$tmp" \
		go install "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION" >&2); then
		rm -rf "$tmp"
		die "building cosign $COSIGN_VERSION failed"
	fi
	"$tmp/cosign" version >/dev/null 2>&1 || {
		rm -rf "$tmp"
		die "built cosign does not run"
	}
	mkdir -p "$dest"
	mv -f "$tmp/cosign" "$dest/cosign"
	rm -rf "$tmp"
}

build_vault() {
	local dest=$1 tmp mod="$SCRIPT_DIR/vault"
	[[ -x "$dest/vault" ]] && return 0
	[[ -f "$mod/go.mod" ]] || die "missing $mod/go.mod"
	grep -q "github.com/hashicorp/vault $VAULT_VERSION\b" "$mod/go.mod" ||
		die "$mod/go.mod does not require github.com/hashicorp/vault $VAULT_VERSION"
	tmp="$(mktemp -d "$TOOLS_DIR/.vault-build.XXXXXX")"
	# -mod=readonly: build exactly what the nested module's go.mod/go.sum pin,
	# and never rewrite them (nor signet's go.mod: GOWORK=off, own module).
	if ! (cd "$mod" && GOWORK=off GOFLAGS="$(tool_goflags) -mod=readonly" \
		go build -ldflags='-s -w' -o "$tmp/vault" github.com/hashicorp/vault >&2); then
		rm -rf "$tmp"
		die "building vault $VAULT_VERSION failed (needs ~6 GB of memory and ~8 GB of Go caches)"
	fi
	"$tmp/vault" version >/dev/null 2>&1 || {
		rm -rf "$tmp"
		die "built vault does not run"
	}
	mkdir -p "$dest"
	mv -f "$tmp/vault" "$dest/vault"
	rm -rf "$tmp"
}

# install TOOL: ensures TOOL is in the cache and prints its export line.
install() {
	local tool=$1 version var dest bin start
	case "$tool" in
	cosign) version=$COSIGN_VERSION var=SIGNET_COSIGN ;;
	vault) version=$VAULT_VERSION var=SIGNET_VAULT ;;
	*) die "unknown tool '$tool' (known: cosign vault)" ;;
	esac
	dest="$TOOLS_DIR/$tool-$version"
	bin="$dest/$tool"
	start=$(date +%s)
	if [[ -x "$bin" ]]; then
		log "$tool $version: cached at $bin"
	else
		log "$tool $version: building into $dest ..."
		with_lock "$tool-$version" "build_$tool" "$dest"
		log "$tool $version: installed at $bin in $(elapsed "$start")"
	fi
	printf 'export %s=%q\n' "$var" "$bin"
}

main() {
	case "${1:-}" in
	-h | --help)
		usage
		return 0
		;;
	esac
	command -v go >/dev/null 2>&1 ||
		die "go is not on PATH: install Go 1.26 or later and retry"
	mkdir -p "$TOOLS_DIR"
	TOOLS_DIR="$(cd "$TOOLS_DIR" && pwd)"
	local tools=("$@")
	((${#tools[@]})) || tools=(cosign vault)
	local t
	for t in "${tools[@]}"; do
		install "$t"
	done
}

main "$@"
