// Package soak holds the soak test (soak_test.go, `make soak`): the real
// binary serving with its in-process janitor on a short schedule and a
// standalone janitor beside it, eight clients running the product
// lifecycle through both API families for SOAK (default 25s in `make test`,
// 3m in `make soak`), then the crash harness's invariants
// (crashtest.CheckInvariants), every janitor pass ok or skipped, no
// warning in either log, and the server's memory and file descriptors flat.
package soak
