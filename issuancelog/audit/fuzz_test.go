package audit

import "testing"

// FuzzParseEntry checks that any log entry, however malformed, is
// described without a panic, and that an unreadable one says why.
func FuzzParseEntry(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, der []byte) {
		e := parseEntry(7, der)
		if e.Index != 7 || (e.Error == "" && e.Serial == "") {
			t.Fatalf("entry %+v", e)
		}
	})
}
