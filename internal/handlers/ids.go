package handlers

import (
	"math"
	"strconv"
)

// parseID accepts a positive integer that fits producto_imagenes.id (int4):
// digits only, so "1.5", "-1", "+1", " 1" and "1e3" are all refused. Anything
// else is errBadID, a 400 — never a database error.
func parseID(s string) (int32, error) {
	n, err := parseDigits(s, math.MaxInt32)
	return int32(n), err
}

// parseID64 is parseID for bigserial ids (trash entries).
func parseID64(s string) (int64, error) {
	return parseDigits(s, math.MaxInt64)
}

func parseDigits(s string, max int64) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, errBadID
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errBadID
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > max {
		return 0, errBadID
	}
	return n, nil
}
