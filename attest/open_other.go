//go:build !unix

package attest

import "os"

// openRegular opens path for reading (see open_unix.go).
func openRegular(path string) (*os.File, error) { return os.Open(path) }
