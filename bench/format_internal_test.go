package main

import (
	"testing"
	"time"
)

// The figures the tables print: medians of odd and even counts, and the
// number formats.
func TestMedianAndFormats(t *testing.T) {
	walls := func(ms ...int) result {
		var r result
		for _, m := range ms {
			r.samples = append(r.samples, sample{wall: time.Duration(m) * time.Millisecond, rssKiB: int64(m) * 1024})
		}
		return r
	}
	for _, tc := range []struct {
		r    result
		want time.Duration
	}{
		{walls(30, 10, 20), 20 * time.Millisecond},
		{walls(40, 10, 30, 20), 25 * time.Millisecond},
		{walls(7), 7 * time.Millisecond},
	} {
		if got := tc.r.medianWall(); got != tc.want {
			t.Errorf("median of %v = %v, want %v", tc.r.samples, got, tc.want)
		}
	}
	if lo, hi := walls(30, 10, 20).wallRange(); lo != 10*time.Millisecond || hi != 30*time.Millisecond {
		t.Errorf("range %v–%v", lo, hi)
	}
	for _, tc := range []struct{ got, want string }{
		{commas(0), "0"}, {commas(999), "999"}, {commas(1000), "1,000"}, {commas(899507), "899,507"}, {commas(-1234567), "-1,234,567"},
		{fmtDur(9400 * time.Millisecond), "9.40 s"}, {fmtDur(312 * time.Millisecond), "312 ms"}, {fmtDur(12345 * time.Millisecond), "12.3 s"},
		{fmtMiB(1039 * 1024), "1,039 MiB"}, {fmtMiB(0), "–"},
		{fmtX(0.1532), "0.15x"}, {fmtX(21.04), "21.0x"},
		{fmtBytes(1 << 30), "1.00 GiB"}, {fmtBytes(107_000_000), "107 MB"}, {fmtBytes(1024), "1 KiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
