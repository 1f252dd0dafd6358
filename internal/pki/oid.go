package pki

import (
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"

	"github.com/signet-dev/signet/internal/problem"
)

// maxOIDArcs bounds the arcs of an object identifier signet parses, as
// sigstore's timestamp authority bounds a requested policy OID.
const maxOIDArcs = 128

// ParseOID parses a dotted object identifier such as "1.3.6.1.4.1.57264.2":
// 2 to 128 arcs of decimal digits that fit an int, the first 0, 1 or 2, and
// the second under 40 when the first is 0 or 1, so that it can be
// DER-encoded. Text quoted in errors is cut short.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > maxOIDArcs {
		return nil, fmt.Errorf("%q is not a dotted OID of 2 to %d arcs, such as 1.3.6.1.4.1.57264.2", problem.Truncate(s), maxOIDArcs)
	}
	oid := make(asn1.ObjectIdentifier, 0, len(parts))
	for _, part := range parts {
		n, err := strconv.ParseUint(part, 10, 31)
		if err != nil || part == "" || strings.TrimLeft(part, "0123456789") != "" {
			return nil, fmt.Errorf("%q is not a dotted OID: arc %q is not a decimal number under 2^31", problem.Truncate(s), problem.Truncate(part))
		}
		oid = append(oid, int(n))
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		return nil, fmt.Errorf("%q is not a valid OID: the first arc must be 0, 1 or 2, and the second under 40 unless the first is 2", problem.Truncate(s))
	}
	return oid, nil
}
