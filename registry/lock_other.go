//go:build !(unix && !aix) && !windows

package registry

import (
	"errors"
	"os"
)

// tryLock: this system has no lock referee uses, and a root without a lock
// is what corrupted journals, so a persistent registry is refused here.
func tryLock(*os.File) error {
	return errors.ErrUnsupported
}
