#!/usr/bin/env bash
# Installs the external tools that signet's tests run for real, each into a
# cache directory keyed by its version, and skips the work when the binary is
# already there.
#
#   test/tools/install.sh [tool...]      # default: all of the tools below
#   eval "$(test/tools/install.sh)"      # sets SIGNET_COSIGN, SIGNET_VAULT, ...
#
# Tools: cosign (v3), cosign-v2, sigstore-go and sigstore-go-sign (the
# example verifier and signer of sigstore-go), gh, notation, sigstore-js
# (npm, needs node and npm), vault.
# Progress and timings go to stderr; stdout carries only `export NAME=PATH`
# lines. The cache is $SIGNET_TOOLS_DIR, else ~/.cache/signet-tools.
#
# cosign v3 and v2, and sigstore-go's example verifier and signer, are `go install`ed
# at pinned versions. gh cannot be `go install`ed through the module proxy,
# so, like Vault, it is a tool of a nested module (test/tools/gh). sigstore-js
# is `npm ci`ed from test/tools/sigstore-js's package-lock.json next to the
# two scripts the tests run; its cache directory is keyed by a hash of that
# folder's files, so an edited script or lock installs anew. Vault has no `go install`
# route (its go.mod has replace directives), so it is built as a tool of the
# nested module test/tools/vault, whose go.mod/go.sum pin Vault and its
# dependencies; that module is separate so that none of it reaches signet's
# own go.mod. A cold Vault build takes 10-15 minutes on 2 cores and peaks at
# about 6 GB of memory (the link); a warm-cache rebuild about a minute.
#
# Cold times on the 2-core machine. Each alone, with empty Go build and
# module caches: cosign v2.6.5 4m32s, gh v2.86.0 1m33s, sigstore-go's
# verifier 0m56s, sigstore-js 0m03s (npm ci, empty npm cache). All tools in
# one run from empty caches, in ALL_TOOLS order: cosign 2m59s, cosign-v2
# 2m20s, sigstore-go 0m18s, gh 0m42s, sigstore-js 0m03s, vault 9m44s;
# 16m06s in all.
set -euo pipefail

COSIGN_VERSION=v3.1.3
COSIGN_V2_VERSION=v2.6.5
GH_VERSION=v2.86.0 # must match the require in test/tools/gh/go.mod
SIGSTORE_GO_VERSION=v1.3.0
SIGSTORE_JS_VERSION=5.0.1 # must match the sigstore dependency in test/tools/sigstore-js/package.json
VAULT_VERSION=v1.21.0 # must match the require in test/tools/vault/go.mod
NOTATION_VERSION=v1.3.2 # must match the require in test/tools/notation/go.mod

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

# check_and_move TMP DEST BIN ARGS...: runs TMP/BIN ARGS... (it must work),
# then moves it to DEST/BIN and removes TMP.
check_and_move() {
	local tmp=$1 dest=$2 bin=$3
	shift 3
	"$tmp/$bin" "$@" >/dev/null 2>&1 || {
		rm -rf "$tmp"
		die "built $bin does not run"
	}
	mkdir -p "$dest"
	mv -f "$tmp/$bin" "$dest/$bin"
	rm -rf "$tmp"
}

# go_install DEST BIN PKG@VERSION ARGS...: `go install`s one command into
# DEST/BIN if `BIN ARGS...` then runs, outside any module so that neither
# signet's go.mod nor a go.work is consulted or changed.
go_install() {
	local dest=$1 bin=$2 pkg=$3 tmp
	shift 3
	[[ -x "$dest/$bin" ]] && return 0
	tmp="$(mktemp -d "$TOOLS_DIR/.$bin-build.XXXXXX")"
	if ! (cd "$tmp" && GOWORK=off GOFLAGS="$(tool_goflags)" GOBIN="$tmp" go install "$pkg" >&2); then
		rm -rf "$tmp"
		die "building $pkg failed"
	fi
	check_and_move "$tmp" "$dest" "$bin" "$@"
}

build_cosign() {
	go_install "$1" cosign "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION" version
}

build_cosign-v2() {
	go_install "$1" cosign "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_V2_VERSION" version
}

# The examples have no version flag; -h prints their usage (exit 0).
build_sigstore-go() {
	go_install "$1" sigstore-go-verification \
		"github.com/sigstore/sigstore-go/examples/sigstore-go-verification@$SIGSTORE_GO_VERSION" -h
}

build_sigstore-go-sign() {
	go_install "$1" sigstore-go-signing \
		"github.com/sigstore/sigstore-go/examples/sigstore-go-signing@$SIGSTORE_GO_VERSION" -h
}

# module_build DEST BIN MODDIR PKG ARGS...: builds PKG, a tool of the
# nested module MODDIR, into DEST/BIN if `BIN ARGS...` then runs.
# -mod=readonly: build exactly what the nested module's go.mod/go.sum pin,
# and never rewrite them (nor signet's go.mod: GOWORK=off, own module).
module_build() {
	local dest=$1 bin=$2 mod=$3 pkg=$4 tmp
	shift 4
	[[ -x "$dest/$bin" ]] && return 0
	[[ -f "$mod/go.mod" ]] || die "missing $mod/go.mod"
	tmp="$(mktemp -d "$TOOLS_DIR/.$bin-build.XXXXXX")"
	if ! (cd "$mod" && GOWORK=off GOFLAGS="$(tool_goflags) -mod=readonly" \
		go build -ldflags='-s -w' -o "$tmp/$bin" "$pkg" >&2); then
		rm -rf "$tmp"
		die "building $pkg in $mod failed"
	fi
	check_and_move "$tmp" "$dest" "$bin" "$@"
}

build_gh() {
	local mod="$SCRIPT_DIR/gh"
	grep -q "github.com/cli/cli/v2 $GH_VERSION\b" "$mod/go.mod" ||
		die "$mod/go.mod does not require github.com/cli/cli/v2 $GH_VERSION"
	module_build "$1" gh "$mod" github.com/cli/cli/v2/cmd/gh --version
}

# notation cannot be `go install`ed at a version here (the proxy refuses
# its version list); like gh it is a tool of a nested module.
build_notation() {
	local mod="$SCRIPT_DIR/notation"
	grep -q "github.com/notaryproject/notation $NOTATION_VERSION\b" "$mod/go.mod" ||
		die "$mod/go.mod does not require github.com/notaryproject/notation $NOTATION_VERSION"
	module_build "$1" notation "$mod" github.com/notaryproject/notation/cmd/notation version
}

# sigstore_js_hash: a short hash of test/tools/sigstore-js's files, which
# names the cache directory (test/e2e computes the same one).
sigstore_js_hash() {
	local d="$SCRIPT_DIR/sigstore-js"
	cat "$d/package.json" "$d/package-lock.json" "$d/sign.mjs" "$d/verify.mjs" | sha256sum | cut -c1-12
}

build_sigstore-js() {
	local dest=$1 src="$SCRIPT_DIR/sigstore-js" tmp
	[[ -f "$dest/verify.mjs" ]] && return 0
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
		die "sigstore-js needs node and npm on PATH (apt-get install nodejs npm)"
	grep -q "\"sigstore\": \"$SIGSTORE_JS_VERSION\"" "$src/package.json" ||
		die "$src/package.json does not pin sigstore $SIGSTORE_JS_VERSION"
	tmp="$(mktemp -d "$TOOLS_DIR/.sigstore-js-build.XXXXXX")"
	cp "$src/package.json" "$src/package-lock.json" "$src/sign.mjs" "$src/verify.mjs" "$tmp/"
	# npm ci installs exactly the lock file; no install scripts run.
	if ! (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2); then
		rm -rf "$tmp"
		die "npm ci of sigstore-js $SIGSTORE_JS_VERSION failed"
	fi
	(cd "$tmp" && node -e "require('@sigstore/verify'); require('sigstore')") ||
		{
			rm -rf "$tmp"
			die "installed sigstore-js does not load in $(node --version)"
		}
	rm -rf "$dest"
	mv -f "$tmp" "$dest"
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

# APT_PACKAGES are Debian packages the tests run for real, each with a
# command that shows it is there: MariaDB for the issuance log's MySQL
# storage, HAProxy to load-balance several replicas end to end.
APT_PACKAGES=("mariadb-server:mariadbd" "haproxy:haproxy")

# ensure_apt_packages installs the missing APT_PACKAGES (as root, with one
# apt-get update first); with all present it does nothing.
ensure_apt_packages() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		command -v "${p#*:}" >/dev/null 2>&1 || missing+=("${p%%:*}")
	done
	((${#missing[@]})) || return 0
	[[ $(id -u) == 0 ]] || die "missing Debian packages ${missing[*]}: run as root, or apt-get install them"
	log "installing Debian packages: ${missing[*]}"
	apt-get update -qq >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# ALL_TOOLS is every tool, in install order (cheapest first).
ALL_TOOLS=(cosign cosign-v2 sigstore-go sigstore-go-sign gh notation sigstore-js vault)

# install TOOL: ensures TOOL is in the cache and prints its export line.
install() {
	local tool=$1 version var name dest bin start
	name=$tool
	case "$tool" in
	cosign) version=$COSIGN_VERSION var=SIGNET_COSIGN ;;
	cosign-v2) version=$COSIGN_V2_VERSION var=SIGNET_COSIGN_V2 name=cosign ;;
	gh) version=$GH_VERSION var=SIGNET_GH ;;
	notation) version=$NOTATION_VERSION var=SIGNET_NOTATION ;;
	sigstore-go) version=$SIGSTORE_GO_VERSION var=SIGNET_SIGSTORE_GO_VERIFY name=sigstore-go-verification ;;
	sigstore-go-sign) version=$SIGSTORE_GO_VERSION var=SIGNET_SIGSTORE_GO_SIGN name=sigstore-go-signing ;;
	sigstore-js) version="$SIGSTORE_JS_VERSION-$(sigstore_js_hash)" var=SIGNET_SIGSTORE_JS name=verify.mjs ;;
	vault) version=$VAULT_VERSION var=SIGNET_VAULT ;;
	*) die "unknown tool '$tool' (known: ${ALL_TOOLS[*]})" ;;
	esac
	dest="$TOOLS_DIR/${tool%-v2}-$version"
	bin="$dest/$name"
	start=$(date +%s)
	if [[ -e "$bin" ]]; then
		log "$tool $version: cached at $bin"
	else
		log "$tool $version: building into $dest ..."
		with_lock "$tool-$version" "build_$tool" "$dest"
		log "$tool $version: installed at $bin in $(elapsed "$start")"
	fi
	# sigstore-js is a folder of scripts: its variable names the folder.
	[[ $tool == sigstore-js ]] && bin=$dest
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
	ensure_apt_packages
	mkdir -p "$TOOLS_DIR"
	TOOLS_DIR="$(cd "$TOOLS_DIR" && pwd)"
	local tools=("$@")
	((${#tools[@]})) || tools=("${ALL_TOOLS[@]}")
	local t
	for t in "${tools[@]}"; do
		install "$t"
	done
}

main "$@"
