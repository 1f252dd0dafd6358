package issuancelog_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine running, such
// as tessera's appender after Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
