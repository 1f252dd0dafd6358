#!/usr/bin/env bash
# Starts signet on its embedded defaults (--dev: in-memory CA and TSA, a
# built-in INSECURE test issuer), signs a file exactly as a GitHub Actions
# job would, verifies the bundle, and stops signet.
#   SIGNET_DEMO_ADDR  listen address (default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."
addr=${SIGNET_DEMO_ADDR:-127.0.0.1:8080}
url="http://$addr"
work=$(mktemp -d)
bin="$work/signet"
go build -o "$bin" ./cmd/signet

"$bin" serve --dev --addr "$addr" >"$work/signet.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/signet.log"; exit 1; }
  sleep 0.1
done
echo "== signet is serving on $url (dev mode)"

echo "hello from signet" >"$work/artifact.txt"
# A GitHub Actions runner sets these two variables; --dev serves a stand-in.
export ACTIONS_ID_TOKEN_REQUEST_URL="$url/dev/oidc/token?api-version=2.0"
export ACTIONS_ID_TOKEN_REQUEST_TOKEN=signet-dev-insecure

echo "== signet sign artifact.txt"
"$bin" sign "$work/artifact.txt" --server "$url"
echo "== signet verify artifact.txt against the trusted root, fetched once"
curl -fsS "$url/api/v1/trustedroot" >"$work/trusted_root.json"
"$bin" verify "$work/artifact.txt" --trusted-root "$work/trusted_root.json" \
  --certificate-identity https://github.com/acme/widgets/.github/workflows/release.yml@refs/heads/main \
  --certificate-oidc-issuer "$url/dev/oidc"
echo "== signet verify artifact.txt over TUF (--dev makes its TUF root at start; a real"
echo "   server's root.json comes from 'signet tuf init' and verifiers pin it once)"
curl -fsS "$url/tuf/1.root.json" >"$work/root.json"
"$bin" verify "$work/artifact.txt" --server "$url" --tuf-root "$work/root.json" --tuf-cache "$work/tuf" \
  --certificate-identity https://github.com/acme/widgets/.github/workflows/release.yml@refs/heads/main \
  --certificate-oidc-issuer "$url/dev/oidc"
