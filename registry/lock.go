package registry

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockName is the lock file's name under Options.Root.
const lockName = "registry.lock"

// errLocked is what tryLock returns when another open file holds the lock.
var errLocked = errors.New("locked")

// rootLock is the exclusive lock a registry holds on its root for as long
// as it serves it. The lock is the operating system's (flock(2) on Unix,
// LockFileEx on Windows) on an open file, so it dies with the process that
// holds it however that process ends (kill -9 included), and nothing is
// left to clean up. The file records the holder's process ID for the
// message another registry gets.
type rootLock struct {
	f *os.File
}

// lockRoot takes the lock on root, or fails at once if another registry
// (another process, or another New in this one) holds it.
func lockRoot(root string) (*rootLock, error) {
	path := filepath.Join(root, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking registry root %s: %w", root, err)
	}
	if err := tryLock(f); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("registry root %s is in use by another registry (%s, holding %s); one registry at a time may serve a root", root, holder, path)
		}
		return nil, fmt.Errorf("locking registry root %s: %w", root, err)
	}
	// Record who holds it. Failing to does not weaken the lock, which is
	// the OS's, so it is not an error.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &rootLock{f: f}, nil
}

// readHolder describes the process recorded in the lock file.
func readHolder(f *os.File) string {
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		return "process " + strconv.Itoa(pid)
	}
	return "process ID not recorded"
}

// release gives the lock up. The file stays: removing it would let a
// registry starting now lock a new file while another still holds the old.
func (l *rootLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the file releases the lock
	l.f = nil
	return err
}
