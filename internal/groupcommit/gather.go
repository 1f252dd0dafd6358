// Package groupcommit gathers the items of one group commit: the issuance
// log's appends and Vault's batched transit signatures both send, as one
// request, the first waiting item and every item that queued behind it.
package groupcommit

import "time"

// Gather appends to group, which holds the first item, every item already
// waiting on in, up to max items. When that leaves the first item alone and
// wait is positive, it waits up to wait for company: the group then closes
// when it is full, when the wait ends or when done closes. The caller
// passes a zero wait when the first item queued behind a busy writer,
// since such items go at once.
func Gather[T any](in <-chan T, group []T, max int, wait time.Duration, done <-chan struct{}) []T {
	for len(group) < max {
		select {
		case it := <-in:
			group = append(group, it)
			continue
		default:
		}
		if len(group) > 1 || wait <= 0 {
			return group
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for len(group) < max {
			select {
			case it := <-in:
				group = append(group, it)
			case <-timer.C:
				return group
			case <-done:
				return group
			}
		}
	}
	return group
}
