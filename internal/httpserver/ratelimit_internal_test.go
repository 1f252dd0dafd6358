package httpserver

import (
	"testing"
	"time"

	"github.com/signet-dev/signet/test/testclock"
)

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:5000":                 "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff::9]:80": "2001:db8:1:2::/64",
		"not-an-address":                 "not-an-address",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLimiterEvictsOldestNotEveryone(t *testing.T) {
	l := newClientLimiter(RateLimit{PerSecond: 0.001, Burst: 1, MaxClients: 3})
	now := testclock.Now()
	if ok, _ := l.reserve("busy", now); !ok {
		t.Fatal("first request refused")
	}
	for i, c := range []string{"a", "b", "c", "d"} {
		l.reserve(c, now.Add(time.Duration(i+1)*time.Second))
	}
	if len(l.clients) > 3 {
		t.Errorf("%d clients tracked, max 3", len(l.clients))
	}
	if ok, _ := l.reserve("d", now.Add(5*time.Second)); ok {
		t.Error("a recent client's empty bucket was reset by eviction")
	}
}
