package audit

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/signet-dev/signet/internal/boundedbody"
	"github.com/transparency-dev/tessera/client"
)

// maxResource bounds one response: an entry bundle of 256 entries of at
// most 64 KiB each. A longer one fails rather than being cut short.
const maxResource = 256 * (2 + 65535)

// source reads a log's tlog-tiles resources.
type source struct {
	readCheckpoint  client.CheckpointFetcherFunc
	readTile        client.TileFetcherFunc
	readEntryBundle client.EntryBundleFetcherFunc
}

// newSource reads from base: an http(s) URL of the log (signet's
// .../api/v1/log), or for offline audits a file:// URL or a directory
// holding a copy of the log's files.
func newSource(base string, hc *http.Client) (source, error) {
	if !strings.Contains(base, "://") {
		return fileSource(base), nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return source{}, fmt.Errorf("log URL %q: %w", base, err)
	}
	switch u.Scheme {
	case "file":
		return fileSource(u.Path), nil
	case "http", "https":
	default:
		return source{}, fmt.Errorf("log URL %q: scheme must be http, https or file", base)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	tidy := *hc
	tidy.Transport = tidyTransport{base: hc.Transport}
	f, err := client.NewHTTPFetcher(u, &tidy)
	if err != nil {
		return source{}, fmt.Errorf("log URL %q: %w", base, err)
	}
	return source{readCheckpoint: f.ReadCheckpoint, readTile: f.ReadTile, readEntryBundle: f.ReadEntryBundle}, nil
}

func fileSource(dir string) source {
	f := client.FileFetcher{Root: dir}
	return source{readCheckpoint: f.ReadCheckpoint, readTile: f.ReadTile, readEntryBundle: f.ReadEntryBundle}
}

// tidyTransport bounds response bodies and closes those of non-200
// responses, which tessera's HTTP fetcher leaves open.
type tidyTransport struct {
	base http.RoundTripper
}

// RoundTrip performs the request with the base transport.
func (t tidyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		resp.Body = http.NoBody
		return resp, nil
	}
	resp.Body = boundedbody.New(resp.Body, maxResource, "a log resource")
	return resp, nil
}
