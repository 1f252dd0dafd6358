// Package boundedbody bounds what an HTTP client reads of a response it
// did not write (an OIDC issuer's documents, a log's tiles): a body longer
// than its limit fails with an error instead of being read on, or cut
// short without a word.
package boundedbody

import (
	"fmt"
	"io"
)

// Body is a response body of at most a limit of bytes.
type Body struct {
	body  io.ReadCloser
	left  int64
	limit int64
	what  string
}

// New bounds body to limit bytes; what names the resource in the error.
func New(body io.ReadCloser, limit int64, what string) *Body {
	return &Body{body: body, left: limit, limit: limit, what: what}
}

// Read reads from the body, failing once it holds more than the limit. A
// body of exactly the limit reads whole.
func (b *Body) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.body.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("%s is over its %d-byte limit", b.what, b.limit)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	return n, err
}

// Close closes the body.
func (b *Body) Close() error { return b.body.Close() }
