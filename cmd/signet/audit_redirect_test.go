package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSameOriginRedirect: the audit client follows a log's redirects only
// within its scheme and host, and not forever.
func TestSameOriginRedirect(t *testing.T) {
	req := func(raw string) *http.Request { return &http.Request{URL: must(url.Parse(raw))} }
	first := []*http.Request{req("https://log.example/api/v1/log/checkpoint")}
	for _, tt := range []struct {
		to   string
		via  []*http.Request
		want string // "" when followed
	}{
		{"https://log.example/mirror/checkpoint", first, ""},
		{"http://log.example/api/v1/log/checkpoint", first, "refusing a redirect from https://log.example to http://log.example"},
		{"https://elsewhere.example/checkpoint", first, "refusing a redirect"},
		{"https://log.example:8443/checkpoint", first, "refusing a redirect"},
		{"https://log.example/again", append(first, first[0], first[0], first[0], first[0]), "stopped after 5 redirects"},
	} {
		err := sameOriginRedirect(req(tt.to), tt.via)
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("redirect to %s after %d = %v, want %q", tt.to, len(tt.via), err, tt.want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
