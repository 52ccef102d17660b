package registry_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/registry"
)

// holdEnv, set to a root, makes the test binary a process that opens a
// registry on that root, says so on stdout and waits to be killed.
const holdEnv = "REFEREE_REGISTRY_TEST_HOLD_ROOT"

func TestMain(m *testing.M) {
	if root := os.Getenv(holdEnv); root != "" {
		reg, err := registry.New(registry.Options{Root: root})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Hour)
		reg.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRootLockedInProcess(t *testing.T) {
	root := t.TempDir()
	first, err := registry.New(registry.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveReg(t, first)
	p := pushImageAndReferrer(t, srv, "demo/app")

	_, err = registry.New(registry.Options{Root: root})
	wantLocked(t, err, root, os.Getpid())

	// Closed, the first registry serves nothing more and the root is free.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if resp := do(t, http.MethodGet, srv.URL+"/v2/", "", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("closed registry answers %s, want 503", resp.Status)
	}
	checkServed(t, start(t, registry.Options{Root: root}), p)
}

// TestRootLockDiesWithProcess: the lock is the OS's, so a registry killed
// with SIGKILL (no chance to clean up) leaves the root free.
func TestRootLockDiesWithProcess(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+root)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("child: %q, %v", line, err)
	}

	_, err = registry.New(registry.Options{Root: root})
	wantLocked(t, err, root, cmd.Process.Pid)

	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	cmd.Wait()
	reg, err := registry.New(registry.Options{Root: root})
	if err != nil {
		t.Fatalf("New after the holder was killed: %v", err)
	}
	reg.Close()
}

// wantLocked checks err is the one-line "in use" error naming root and pid.
func wantLocked(t *testing.T, err error, root string, pid int) {
	t.Helper()
	if err == nil {
		t.Fatal("a second registry on the same root started")
	}
	msg := err.Error()
	for _, want := range []string{root, "in use by another registry", "process " + strconv.Itoa(pid), filepath.Join(root, "registry.lock")} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
}
