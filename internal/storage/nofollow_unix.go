//go:build unix

package storage

import "syscall"

// syscallNoFollow makes the final open refuse a symlink that replaced the
// file between the check and the open.
const syscallNoFollow = syscall.O_NOFOLLOW
