package handlers

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// idOracle is the rule of SPEC §4 written independently of parseDigits: a
// decimal of at most 19 digits (the longest int64) and nothing else, whose
// value is in [1, max]. Leading zeros are digits like any other.
func idOracle(s string, max int64) (int64, bool) {
	if s == "" || len(s) > 19 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 1 || n.Cmp(big.NewInt(max)) > 0 {
		return 0, false
	}
	return n.Int64(), true
}

// FuzzParseID: the id parsers never panic, and accept exactly what the
// oracle accepts, with the same value.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "+1", " 1", "1 ", "1.5", "1e3", "0x10", "2147483647", "2147483648",
		"9223372036854775807", "9223372036854775808", "00000000000000000001", "007", "١", "1\x00", "", "%31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want32, ok32 := idOracle(s, math.MaxInt32)
		got32, err := parseID(s)
		if (err == nil) != ok32 || (ok32 && int64(got32) != want32) {
			t.Fatalf("parseID(%q): got %d, %v; want %d, accepted=%v", s, got32, err, want32, ok32)
		}
		if err != nil && err != errBadID {
			t.Fatalf("parseID(%q): got error %v, want errBadID", s, err)
		}
		want64, ok64 := idOracle(s, math.MaxInt64)
		got64, err := parseID64(s)
		if (err == nil) != ok64 || (ok64 && got64 != want64) {
			t.Fatalf("parseID64(%q): got %d, %v; want %d, accepted=%v", s, got64, err, want64, ok64)
		}
		if ok64 && strconv.FormatInt(got64, 10) != strings.TrimLeft(s, "0") {
			t.Fatalf("parseID64(%q) = %d does not print back to the input's digits", s, got64)
		}
	})
}
