package ratelimit

import (
	"testing"
	"time"

	"github.com/signet-dev/signet/test/testclock"
)

func TestBucketsLimitEachKey(t *testing.T) {
	b := New(Limits{PerSecond: 1, Burst: 2})
	now := testclock.Now()
	for i, want := range []bool{true, true, false} {
		if ok, retry := b.Reserve("a", now); ok != want || (!ok && (retry <= 0 || retry > time.Second)) {
			t.Fatalf("request %d of a: ok %v retry %v, want ok %v and a retry within a second", i, ok, retry, want)
		}
	}
	if ok, _ := b.Reserve("b", now); !ok {
		t.Error("b was limited by a's requests")
	}
	if ok, _ := b.Reserve("a", now.Add(time.Second)); !ok {
		t.Error("a's bucket did not refill after a second")
	}
}

func TestEvictionDropsTheOldestNotEveryone(t *testing.T) {
	b := New(Limits{PerSecond: 0.001, Burst: 1, MaxKeys: 3})
	now := testclock.Now()
	if ok, _ := b.Reserve("busy", now); !ok {
		t.Fatal("first request refused")
	}
	for i, k := range []string{"a", "b", "c", "d"} {
		b.Reserve(k, now.Add(time.Duration(i+1)*time.Second))
	}
	if b.Len() > 3 {
		t.Errorf("%d keys tracked, max 3", b.Len())
	}
	if ok, _ := b.Reserve("d", now.Add(5*time.Second)); ok {
		t.Error("a recent key's empty bucket was reset by eviction")
	}
}

func TestIdleFullBucketsGoFirst(t *testing.T) {
	b := New(Limits{PerSecond: 1, Burst: 1, MaxKeys: 2})
	now := testclock.Now()
	b.Reserve("old", now)
	b.Reserve("recent", now.Add(time.Second))
	b.Reserve("new", now.Add(1500*time.Millisecond)) // "old" is full again: dropped, "recent" kept
	if ok, _ := b.Reserve("recent", now.Add(1500*time.Millisecond)); ok {
		t.Error("the recent key's empty bucket was dropped instead of the idle full one")
	}
}
