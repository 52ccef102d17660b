// Package gcpace paces the garbage collector of a short-lived command: a
// collection is not worth its cost before the heap has grown by a few
// tens of MiB, whatever GOGC's default of 100 says for a heap of a few.
package gcpace

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Headroom is how far the heap may grow past what is live before a
// collection, while that is more than GOGC's default would let it
// (that is, while less than Headroom is live).
const Headroom = 64 << 20

// maxPercent bounds the pace for a heap of almost nothing live: the
// heap may grow to at most five times what is live.
const maxPercent = 400

// Start sets GOGC after every collection to let the heap grow by Headroom
// past what is live, between GOGC's default (100) and maxPercent (which
// it starts with: the first collection comes at 16 MiB rather than 4). A
// heap of more than Headroom live is paced as by default, so the peak
// memory of a large verification (W1's) does not grow; below that the
// heap may hold up to Headroom of garbage (up to 48 MiB more than the
// default pace would, at 16 to 64 MiB live), and a heap that only grows
// (recording's, while it hashes), whose collections free little, is
// collected less often. Measured: `referee verify` of an image with 500
// links 20 ms away collects once rather than six times (11% less wall,
// 3.5 MiB more peak memory); `referee run` over 100,000 files three
// times rather than four (7% less wall, the same peak); W1's 900k
// entries in the same time, with 10 MiB less peak memory; hostile
// evidence (docs/threat-model.md) peaks at about 1x its bytes, not 0.7x.
// It does nothing when GOGC is set, even empty: the user's setting
// stands. GOMEMLIMIT, when set, still bounds the heap.
//
// The pace is set by hand, with a cleanup that runs after each
// collection (runtime.AddCleanup), because Go has no minimum heap size
// (GOMEMLIMIT bounds the heap from above) and the tuners that do this
// (bytedance/gopkg's gctuner, TiDB's) come inside large modules.
func Start() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	debug.SetGCPercent(maxPercent)
	arm()
}

// sentinel is what the next collection frees, so that its cleanup runs
// after it. It holds a pointer, and so never shares a block of the tiny
// allocator (which batches small objects without pointers) with anything
// that stays live.
type sentinel struct {
	_ *byte
	_ [16]byte
}

func arm() {
	runtime.AddCleanup(new(sentinel), func(struct{}) { pace() }, struct{}{})
}

// pace sets GOGC for the heap live after the last collection, and arms
// the cleanup for the next.
func pace() {
	debug.SetGCPercent(Percent(liveBytes()))
	arm()
}

// Percent is the GOGC that lets a heap of live bytes grow by Headroom,
// between 100 and maxPercent.
func Percent(live uint64) int {
	if live == 0 {
		return maxPercent
	}
	return int(min(max(100*Headroom/live, 100), maxPercent))
}

// liveBytes is the heap the last collection marked live.
func liveBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
