package config

import (
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"
)

// maxOIDArcs bounds the arcs of a configured object identifier.
const maxOIDArcs = 32

// ParseOID parses a dotted object identifier such as "1.3.6.1.4.1.57264.2":
// at least two arcs of decimal digits, the first 0, 1 or 2, and the second
// under 40 when the first is 0 or 1, so that it can be DER-encoded.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > maxOIDArcs {
		return nil, fmt.Errorf("%q is not a dotted OID of 2 to %d arcs, such as 1.3.6.1.4.1.57264.2", s, maxOIDArcs)
	}
	oid := make(asn1.ObjectIdentifier, 0, len(parts))
	for _, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || strings.TrimLeft(part, "0123456789") != "" {
			return nil, fmt.Errorf("%q is not a dotted OID: arc %q is not a decimal number", s, part)
		}
		oid = append(oid, n)
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		return nil, fmt.Errorf("%q is not a valid OID: the first arc must be 0, 1 or 2, and the second under 40 unless the first is 2", s)
	}
	return oid, nil
}
