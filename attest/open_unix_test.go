//go:build unix

package attest_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
)

// TestReadEnvelopeFileFIFO: a FIFO where a link file was (swapped in after
// a directory was listed) is refused at once, not waited on for a writer.
func TestReadEnvelopeFileFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "build.0123abcd.link")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := attest.ReadEnvelopeFile(p, attest.DefaultMaxFileSize)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("a FIFO: %v, want refused as not a regular file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
}
