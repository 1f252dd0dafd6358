package pki

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// RandomSerial returns a positive serial number of exactly 20 random-led
// bytes: 158 random bits under a fixed 0b01 prefix, the most RFC 5280
// allows. cryptoutils.GenerateSerialNumber draws from [0, 2^159), so one
// serial in 128 would encode shorter than the 20 bytes signet promises.
func RandomSerial() (*big.Int, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("pki: serial: %w", err)
	}
	b[0] &= 0x7f
	b[0] |= 0x40 // keep it a full 20 octets
	return new(big.Int).SetBytes(b), nil
}
