package gcpace_test

import (
	"os"
	osexec "os/exec"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/internal/gcpace"
)

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{1 << 20, 400},
		{16 << 20, 400},
		{20 << 20, 320},
		{32 << 20, 200},
		{gcpace.Headroom, 100},
		{1 << 30, 100},
	} {
		if got := gcpace.Percent(tc.live); got != tc.want {
			t.Errorf("Percent(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}

// gogc is the GOGC in effect.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// collectUntil collects until GOGC is want: the pace is set by a cleanup
// that runs after a collection, on the runtime's time.
func collectUntil(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != want {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d, want %d", gogc(), want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

var live [][]byte

// TestStart runs in a process of its own (the pace is the process's).
func TestStart(t *testing.T) {
	if os.Getenv("GCPACE_CHILD") == "" {
		for _, env := range [][]string{nil, {"GOGC=100"}} {
			out, err := exec(t, env).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestStart") {
				t.Fatalf("%v: %v\n%s", env, err, out)
			}
		}
		return
	}
	_, userSet := os.LookupEnv("GOGC")
	gcpace.Start()
	if userSet {
		runtime.GC()
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if got := gogc(); got != 100 {
			t.Fatalf("with GOGC set, Start changed it to %d", got)
		}
		return
	}
	if got := gogc(); got != 400 {
		t.Fatalf("GOGC is %d before the first collection, want 400", got)
	}
	collectUntil(t, 400)
	for range 96 {
		live = append(live, make([]byte, 1<<20)) // 96 MiB live: more than Headroom
	}
	collectUntil(t, 100)
	// 32 MiB live: GOGC 200, give or take what the test binary holds.
	clear(live[32:]) // the rest no longer referred to
	live = live[:32]
	deadline := time.Now().Add(10 * time.Second)
	for got := gogc(); got <= 100 || got >= 400; got = gogc() {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d with about 32 MiB live, want about 200", got)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	live = nil
	collectUntil(t, 400)
}

// exec is this test binary running TestStart alone, as the child, with
// env added (GOGC removed unless env sets it).
func exec(t *testing.T, env []string) *osexec.Cmd {
	t.Helper()
	cmd := osexec.Command(os.Args[0], "-test.run=^TestStart$", "-test.count=1", "-test.v")
	for _, kv := range os.Environ() {
		if len(kv) < 5 || kv[:5] != "GOGC=" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "GCPACE_CHILD=1"), env...)
	return cmd
}
