package client

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/test/testclock"
)

// TestRetries: what a busy or restarting server answers is tried again,
// with the same body; a refusal is final; the tries are bounded.
func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answers   []int  // status per try; the last repeats
		header    string // Retry-After on every non-2xx answer
		wantTries int
		wantErr   string
	}{
		{"503 then 200", []int{503, 503, 200}, "0", 3, ""},
		{"429 with Retry-After then 200", []int{429, 200}, "0", 2, ""},
		{"502 and 504 then 200, backoff", []int{502, 504, 200}, "", 3, ""},
		{"400 is final", []int{400, 200}, "", 1, "400"},
		{"401 is final", []int{401, 200}, "", 1, "401"},
		{"500 is final", []int{500, 200}, "", 1, "500"},
		{"503 every time", []int{503}, "0", 4, "after 4 tries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tries atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(tries.Add(1))
				if b, _ := io.ReadAll(r.Body); string(b) != "the body" {
					t.Errorf("try %d sent body %q", n, b)
				}
				status := tc.answers[min(n, len(tc.answers))-1]
				if status != 200 && tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(status)
				_, _ = io.WriteString(w, `{"code":"x","message":"answer `+http.StatusText(status)+`"}`)
			}))
			defer srv.Close()
			c := &Client{BaseURL: srv.URL, Attempts: 4, RetryWait: 5 * time.Millisecond}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/v1/sign", strings.NewReader("the body"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.do(req)
			if got := int(tries.Load()); got != tc.wantTries {
				t.Errorf("%d tries, want %d", got, tc.wantTries)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("do = %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("do = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestNoAnswer: a server that accepts and never answers, or a refused
// connection, ends within the command's deadline, with an error that does
// not quote the URL's query (a token-request URL may carry a secret).
func TestNoAnswer(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	_ = l.Close()
	for _, tc := range []struct {
		name, url string
	}{{"hanging server", hang.URL}, {"refused connection", refused}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			c := &Client{HTTP: &http.Client{Timeout: 100 * time.Millisecond}, RetryWait: 20 * time.Millisecond}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, tc.url+"/token?sig=SECRET", nil)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, _, err := c.do(req); done <- err }()
			select {
			case err := <-done:
				if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "tries") {
					t.Errorf("do = %v, want an error after retries that does not quote the query", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("do did not return within 10s of a 300ms deadline")
			}
		})
	}
}

// TestRetryAfter reads both forms of the header, capped.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"junk", 0}, {"0", time.Millisecond}, {"2", 2 * time.Second}, {"3600", maxRetryWait},
		{testclock.WallNow().Add(time.Hour).UTC().Format(http.TimeFormat), maxRetryWait},
	} {
		if got := retryAfter(tc.v); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

// TestRefusalMessages: the message of a refusal reaches the error, from
// signet's problem body (a string code) and from Fulcio's or the
// timestamp authority's (a numeric code).
func TestRefusalMessages(t *testing.T) {
	for _, body := range []string{
		`{"code":"invalid_token","message":"the token expired"}`,
		`{"code":3,"message":"the token expired","details":[]}`,
		`{"code":400,"message":"the token expired"}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, body)
		}))
		c := &Client{Attempts: 1}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.do(req); err == nil || !strings.Contains(err.Error(), "the token expired") {
			t.Errorf("body %s: error %v, want the message", body, err)
		}
		srv.Close()
	}
}
