package app

import (
	"crypto/x509"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// expiryMetrics are gauges of the time left before what signet needs
// lapses, read at each scrape, so an operator alerts before it does: the
// CA and TSA chains (their earliest NotAfter) and the Vault token (+Inf
// for a token that never expires).
func (a *App) expiryMetrics(src *trustSource) []prometheus.Collector {
	out := []prometheus.Collector{chainExpiry{
		desc: prometheus.NewDesc("signet_certificate_expiry_seconds",
			"Seconds until the first certificate of an authority's chain expires (authority: ca or tsa).", []string{"authority"}, nil),
		chains: map[string]func() []*x509.Certificate{"ca": src.Chain, "tsa": func() []*x509.Certificate {
			if m := src.cur.Load(); m != nil {
				return m.authority.Chain()
			}
			return nil
		}},
		clock: a.clock,
	}}
	if a.usesVault {
		out = append(out, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signet_vault_token_expiry_seconds",
			Help: "Seconds until signet's Vault token expires, as of its last login or renewal; +Inf if it never does; NaN before the first login.",
		}, func() float64 {
			vc := src.vc.Load()
			if vc == nil {
				return math.NaN()
			}
			at, ok := vc.TokenExpiry()
			if !ok {
				return math.Inf(1)
			}
			return at.Sub(a.clock()).Seconds()
		}))
	}
	return out
}

// chainExpiry reports each authority's time to expiry.
type chainExpiry struct {
	desc   *prometheus.Desc
	chains map[string]func() []*x509.Certificate // by authority
	clock  func() time.Time
}

// Describe sends the gauge's description.
func (c chainExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect sends, for each authority, the seconds until its chain's
// earliest NotAfter.
func (c chainExpiry) Collect(ch chan<- prometheus.Metric) {
	now := c.clock()
	for authority, chain := range c.chains {
		certs := chain()
		if len(certs) == 0 {
			continue // not loaded yet
		}
		var first time.Time
		for _, cert := range certs {
			if first.IsZero() || cert.NotAfter.Before(first) {
				first = cert.NotAfter
			}
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, first.Sub(now).Seconds(), authority)
	}
}
