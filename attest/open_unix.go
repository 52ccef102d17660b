//go:build unix

package attest

import (
	"os"
	"syscall"
)

// openRegular opens path for reading without blocking on a FIFO (or a
// device) swapped in where a file was listed: O_NONBLOCK makes such an
// open return at once, and readLimited then refuses what is not a regular
// file. Reads of a regular file ignore the flag.
func openRegular(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
