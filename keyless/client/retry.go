package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/signet-dev/signet/internal/problem"
	"github.com/signet-dev/signet/internal/version"
)

// DefaultAttempts is how many times a Client tries one request.
const DefaultAttempts = 5

// maxRetryWait caps one wait between tries, a server's Retry-After
// included.
const maxRetryWait = 30 * time.Second

// maxResponse bounds a response body.
const maxResponse = 16 << 20

// do sends req with signet's User-Agent and returns a 2xx answer's body
// and headers; any other status is an error carrying the problem message.
// It tries again, up to c.Attempts times within req's context, when the
// request may succeed later: no answer (a refused or broken connection, a
// timeout) or 429, 502, 503 or 504, after the server's Retry-After when it
// sends one and an exponential backoff otherwise. A 4xx other than 429 is
// final.
func (c *Client) do(req *http.Request) ([]byte, http.Header, error) {
	req.Header.Set("User-Agent", version.UserAgent())
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	wait := c.RetryWait
	if wait <= 0 {
		wait = time.Second
	}
	ctx := req.Context()
	for try := 1; ; try++ {
		out, header, after, err := c.once(req)
		if err == nil || after < 0 || try == attempts {
			if err != nil && try > 1 {
				err = fmt.Errorf("%w (after %d tries)", err, try)
			}
			return out, header, err
		}
		pause := after
		if pause == 0 {
			pause = wait/2 + rand.N(wait/2+1) // jittered, so that clients spread out
			wait = min(2*wait, maxRetryWait)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < pause {
			return nil, nil, fmt.Errorf("%w (after %d tries; no time left to wait %s for another)", err, try, pause.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w (after %d tries: %v)", err, try, ctx.Err())
		case <-time.After(pause):
		}
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, nil, fmt.Errorf("keyless: resend request: %w", gerr)
			}
			req = req.Clone(ctx)
			req.Body = body
		}
	}
}

// once sends req one time. after says whether to try again: -1 never, 0
// after a backoff, more after that long (the server's Retry-After).
func (c *Client) once(req *http.Request) (out []byte, header http.Header, after time.Duration, err error) {
	resp, err := c.httpClient().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL, query included
		}
		after = 0
		if req.Context().Err() != nil {
			after = -1
		}
		return nil, nil, after, fmt.Errorf("keyless: %s %s%s: %w", req.Method, req.URL.Host, req.URL.Path, err)
	}
	defer resp.Body.Close()
	out, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("keyless: read response: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		return out, resp.Header, -1, nil
	}
	after = -1
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		after = retryAfter(resp.Header.Get("Retry-After"))
	}
	// signet's problem body has a string code; Fulcio's (grpc-gateway)
	// and the timestamp authority's have a number.
	var pb struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(out, &pb) == nil && pb.Message != "" {
		code := strings.Trim(string(pb.Code), `"`)
		return nil, nil, after, fmt.Errorf("keyless: server refused (%d %s): %s", resp.StatusCode, problem.Clip(code, 32), problem.Clip(pb.Message, 512))
	}
	return nil, nil, after, fmt.Errorf("keyless: server answered %s", resp.Status)
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) as a
// wait of at most maxRetryWait; 0 when there is none, which means a
// backoff.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return min(max(time.Duration(s)*time.Second, time.Millisecond), maxRetryWait)
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(at), time.Millisecond), maxRetryWait)
	}
	return 0
}
