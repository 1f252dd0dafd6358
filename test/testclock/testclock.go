// Package testclock is the one time source of signet's in-process tests.
//
// Every certificate chain, token and clock that an in-process test builds
// takes its time from Now (or from a Clock started at Now), never from
// time.Now or a date written in the test. Now is the wall clock moved by
// the environment variable SIGNET_TEST_CLOCK_SHIFT, a Go duration such as
// 8760h or -720h, so the whole in-process suite can be run as if on another
// date: `make test-clock-shift` runs it a year ahead and a year back, and a
// test that still depends on today's date fails there.
//
// Tests that start real processes (the signet binary, Vault, cosign) run on
// the wall clock, which those processes read; they use WallNow, and
// SIGNET_TEST_CLOCK_SHIFT does not apply to them.
package testclock

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// ShiftVar is the environment variable that moves Now.
const ShiftVar = "SIGNET_TEST_CLOCK_SHIFT"

// Shift returns the duration SIGNET_TEST_CLOCK_SHIFT moves Now by, 0 when
// it is unset. A value that does not parse panics: a test run that asked
// for another date must not silently run on today's.
func Shift() time.Duration {
	v := os.Getenv(ShiftVar)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic(fmt.Sprintf("testclock: %s=%q is not a Go duration: %v", ShiftVar, v, err))
	}
	return d
}

// Now is the tests' time: the wall clock moved by Shift.
func Now() time.Time { return time.Now().Add(Shift()) }

// WallNow is the wall clock, for tests whose other side is a real process
// that reads it (the signet binary, Vault, a real client).
func WallNow() time.Time { return time.Now() }

// Clock is a settable clock for tests that step time: it starts at Now
// and moves only when told. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock stopped at Now.
func New() *Clock { return &Clock{now: Now()} }

// At returns a Clock stopped at t.
func At(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
