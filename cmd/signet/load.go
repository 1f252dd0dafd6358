package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/keyless/client"
)

// loadCommand is `signet load`: a bounded load test of a signet server's
// one-shot endpoint, as many CI jobs signing at once would load it.
func loadCommand() *cobra.Command {
	var server string
	var clients, requests int
	var tf tokenFlags
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Send a bounded number of one-shot signing requests and report throughput and latency",
		Long: `load signs --requests artifacts through the server's one-shot endpoint from
--clients concurrent clients, each with a fresh ephemeral key as a CI job
would, and prints bundles per second and latency percentiles. It stops after
--requests; point it only at a server you run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clients < 1 || requests < 1 || requests > 100_000 {
				return errors.New("--clients must be at least 1 and --requests between 1 and 100000")
			}
			token, err := tf.get(cmd)
			if err != nil {
				return err
			}
			c := &client.Client{BaseURL: server}
			var next, failed atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			var firstErr error
			var wg sync.WaitGroup
			start := time.Now()
			for range clients {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(requests); i = next.Add(1) {
						t0 := time.Now()
						_, err := c.SignArtifact(cmd.Context(), token, sha256.Sum256(fmt.Appendf(nil, "artifact %d", i)))
						d := time.Since(t0)
						mu.Lock()
						if err != nil {
							failed.Add(1)
							if firstErr == nil {
								firstErr = err
							}
						} else {
							lat = append(lat, d)
						}
						mu.Unlock()
					}
				})
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
			fmt.Fprintf(out, "requests: %d, clients: %d, elapsed: %s\n", requests, clients, elapsed.Round(time.Millisecond))
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
	cmd.Flags().IntVar(&requests, "requests", 200, "total requests")
	tf.register(cmd)
	return cmd
}
