package issuancelog

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
)

// TestStorageFull tells a full disk, quota or database from other
// failures, wrapped or flattened into text as tessera's drivers do.
func TestStorageFull(t *testing.T) {
	tableFull := &gomysql.MySQLError{Number: 1114, SQLState: [5]byte{'H', 'Y', '0', '0', '0'}, Message: "The table 'TiledLeaves' is full"}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("write tile: %w", syscall.ENOSPC), true},
		{fmt.Errorf("write tile: %v", syscall.EDQUOT), true},
		{errors.New("Errcode: 28 - No space left on device"), true},
		{fmt.Errorf("tessera: %w", tableFull), true},
		{fmt.Errorf("tessera: %v", tableFull), true},
		{fmt.Errorf("tessera: %w", &gomysql.MySQLError{Number: 1021, Message: "Disk full (/var/lib/mysql); waiting"}), true},
		{fmt.Errorf("tessera: %w", &gomysql.MySQLError{Number: 1213, Message: "Deadlock found"}), false},
		{fmt.Errorf("write tile: %w", syscall.EIO), false},
	} {
		if got := storageFull(tc.err); got != tc.want {
			t.Errorf("storageFull(%q) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
