package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/keyless/client"
)

// loadCommand is `signet load`: a bounded load test of a signet server's
// one-shot endpoint, as many CI jobs signing at once would load it.
func loadCommand() *cobra.Command {
	var server, mode, tsaURL string
	var clients, requests int
	var rate float64
	var tf tokenFlags
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Send a bounded number of one-shot signing requests and report throughput and latency",
		Long: `load signs --requests artifacts through the server's one-shot endpoint from
--clients concurrent clients, each with a fresh ephemeral key as a CI job
would, and prints bundles per second and latency percentiles. It stops after
--requests; point it only at a server you run.

--mode fulcio-tsa signs the way cosign does with a Fulcio and a timestamp
authority instead: POST /api/v2/signingCert on --server, then an RFC 3161
request to --tsa-url (default: --server's /api/v1/timestamp), so signet's
one-shot endpoint can be compared with that flow, against signet itself or
against Fulcio and a sigstore timestamp-authority.

With --rate R it is an open loop instead: request i starts at i/R seconds
(at most --clients in flight; one that must wait for a free client counts
its wait), so latency is measured at a fixed load, e.g. half of the max
bundles/s a closed-loop run reached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mode != "one-shot" && mode != "fulcio-tsa" {
				return fmt.Errorf("--mode %q: want one-shot or fulcio-tsa", mode)
			}
			if tsaURL == "" {
				tsaURL = strings.TrimSuffix(server, "/") + "/api/v1/timestamp"
			}
			if clients < 1 || requests < 1 || requests > 100_000 || rate < 0 || rate > 100_000 {
				return errors.New("--clients must be at least 1, --requests between 1 and 100000, --rate between 0 and 100000")
			}
			token, err := tf.get(cmd.Context())
			if err != nil {
				return err
			}
			tuneGC()
			// Keep one idle connection per client, as a load generator does,
			// rather than net/http's default of two per host: otherwise most
			// requests dial anew, and the handshakes are what gets measured.
			transport := http.DefaultTransport.(*http.Transport).Clone()
			transport.MaxIdleConns, transport.MaxIdleConnsPerHost = 2*clients, clients
			defer transport.CloseIdleConnections()
			// One try per request: a load run counts every failure.
			c := &client.Client{BaseURL: server, HTTP: &http.Client{Transport: transport}, Attempts: 1}
			var next, failed atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			var firstErr error
			var wg sync.WaitGroup
			// one signs artifact i and records its latency from t0.
			one := func(i int64, t0 time.Time) {
				digest := sha256.Sum256(fmt.Appendf(nil, "artifact %d", i))
				var err error
				if mode == "fulcio-tsa" {
					_, err = c.SignViaFulcio(cmd.Context(), token, digest, tsaURL)
				} else {
					_, err = c.SignArtifact(cmd.Context(), token, digest)
				}
				d := time.Since(t0)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed.Add(1)
					if firstErr == nil {
						firstErr = err
					}
					return
				}
				lat = append(lat, d)
			}
			start := time.Now()
			if rate > 0 {
				slots := make(chan struct{}, clients)
				for i := range int64(requests) {
					due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					time.Sleep(time.Until(due))
					slots <- struct{}{}
					wg.Go(func() {
						defer func() { <-slots }()
						one(i+1, due)
					})
				}
			} else {
				for range clients {
					wg.Go(func() {
						for i := next.Add(1); i <= int64(requests); i = next.Add(1) {
							one(i, time.Now())
						}
					})
				}
			}
			wg.Wait()
			elapsed := time.Since(start)
			slices.Sort(lat)
			pct := func(p float64) time.Duration {
				if len(lat) == 0 {
					return 0
				}
				return lat[min(len(lat)-1, int(p*float64(len(lat))))]
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "mode: %s, requests: %d, clients: %d, rate: %g/s, elapsed: %s\n", mode, requests, clients, rate, elapsed.Round(time.Millisecond))
			fmt.Fprintf(out, "bundles/s: %.1f\n", float64(len(lat))/elapsed.Seconds())
			fmt.Fprintf(out, "latency p50: %s, p95: %s, p99: %s\n", pct(0.50).Round(time.Microsecond), pct(0.95).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
			fmt.Fprintf(out, "errors: %d\n", failed.Load())
			if firstErr != nil {
				return fmt.Errorf("%d of %d requests failed; first: %w", failed.Load(), requests, firstErr)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "signet server URL")
	cmd.Flags().IntVar(&clients, "clients", 4, "concurrent clients")
	cmd.Flags().StringVar(&mode, "mode", "one-shot", "one-shot (POST /api/v1/sign) or fulcio-tsa (signingCert, then a timestamp, as cosign does)")
	cmd.Flags().StringVar(&tsaURL, "tsa-url", "", "the timestamp authority of --mode fulcio-tsa (default: --server's /api/v1/timestamp)")
	cmd.Flags().IntVar(&requests, "requests", 200, "total requests")
	cmd.Flags().Float64Var(&rate, "rate", 0, "open loop: start this many requests per second (0: each client sends its next request when the last returns)")
	tf.register(cmd)
	return cmd
}
