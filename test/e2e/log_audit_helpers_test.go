package e2e

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/bundle"
	"github.com/signet-dev/signet/issuancelog/audit"
)

// proveWait bounds how long a proof waits for a checkpoint covering a
// fresh certificate: several checkpoint intervals (1s by default).
const proveWait = 10 * time.Second

// proveAll proves every certificate of certs in the log served at
// server, at the index its response carried.
func proveAll(t *testing.T, server, vkey string, certs []issuedCert) {
	t.Helper()
	c, err := audit.New(server+"/api/v1/log", vkey, logHTTP)
	if err != nil {
		t.Fatal(err)
	}
	for _, ic := range certs {
		inc, err := c.Prove(context.Background(), ic.der, proveWait)
		if err != nil {
			t.Errorf("%s: the certificate of %s (log index %d) is not proven: %v", server, ic.via, ic.index, err)
			continue
		}
		if inc.Index != ic.index {
			t.Errorf("%s: the certificate of %s is entry %d, its response said %d", server, ic.via, inc.Index, ic.index)
		}
	}
}

// auditEntries parses the JSON lines of `signet audit search`.
func auditEntries(t *testing.T, stdout string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var e audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit search printed %q, not a JSON entry: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// entryIndices returns the sorted indices of entries.
func entryIndices(entries []audit.Entry) []uint64 {
	var out []uint64
	for _, e := range entries {
		out = append(out, e.Index)
	}
	slices.Sort(out)
	return out
}

// certIndices returns the sorted indices of certs.
func certIndices(certs ...issuedCert) []uint64 {
	var out []uint64
	for _, c := range certs {
		out = append(out, c.index)
	}
	slices.Sort(out)
	return out
}

// proveIndexRE reads the entry index `signet audit prove` printed.
var proveIndexRE = regexp.MustCompile(`is entry (\d+), proven in checkpoint of size (\d+)`)

// auditProve runs `signet audit prove` on a bundle and returns the entry
// index it printed.
func auditProve(t *testing.T, server, vkey, bundlePath string) uint64 {
	t.Helper()
	r := mustRun(t, nil, signetBin, "audit", "prove", "--server", server, "--log-key", vkey, "--bundle", bundlePath, "--wait", proveWait.String())
	m := proveIndexRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("audit prove --bundle %s printed no entry index:\n%s%s", bundlePath, r.stdout, r.stderr)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// leafOf returns the DER of a bundle file's certificate.
func leafOf(t *testing.T, bundlePath string) []byte {
	t.Helper()
	b, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := bundle.LeafCertificate(b)
	if err != nil {
		t.Fatalf("%s: %v", bundlePath, err)
	}
	return leaf.Raw
}

// parseDER parses a certificate.
func parseDER(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
