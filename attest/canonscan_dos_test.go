package attest_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
)

// within fails t when f takes longer than limit, without waiting for it
// beyond limit (a quadratic reader would take minutes).
func within(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s: more than %v (the library path takes a fraction of it)", what, limit)
	}
	t.Logf("%s: %v", what, time.Since(start))
}

// libraryTime is how long the library path takes on the same input,
// measured beside the one-pass reader so that the bound holds on a loaded
// machine.
func libraryTime(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// TestScanLinkManyAlgorithms: a hash object with many algorithms (sorted,
// so the one-pass reader takes it) is read in linear time, as ParseLink
// reads it; comparing each algorithm with every other for case took
// minutes for a few MB.
func TestScanLinkManyAlgorithms(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"_type":"link","name":"s","command":[],"materials":{"f":{`)
	for i := range 40000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"a%07d":"00"`, i)
	}
	b.WriteString(`}},"products":{},"byproducts":{},"environment":{}}`)
	payload := b.Bytes()
	lib := libraryTime(func() {
		if _, err := attest.ParseLink(payload); err != nil {
			t.Fatal(err)
		}
	})
	for _, form := range []attest.Form{attest.FormDSSE, attest.FormMetablock} {
		env := attest.NewEnvelope(form, payload)
		within(t, 20*lib+time.Second, "ScanLink "+form.String(), func() { attest.ScanLink(env) })
	}
}

// TestCanonicalNestedUnsorted: objects nested 62 deep, each with its large
// member last in the order of 64 keys written in reverse, cost the
// one-pass encoder's in-place sort 63 moves of the large member at each
// level (some 4,000 times the document); it must give up well before, and
// the result stays the library's.
func TestCanonicalNestedUnsorted(t *testing.T) {
	v := `"` + strings.Repeat("x", 1<<20) + `"`
	for range 62 {
		var b strings.Builder
		b.WriteString("{")
		for k := 63; k >= 1; k-- {
			fmt.Fprintf(&b, `"k%02d":0,`, k)
		}
		b.WriteString(`"k00":` + v + "}")
		v = b.String()
	}
	doc := []byte(v)
	var want []byte
	lib := libraryTime(func() {
		var err error
		if want, err = attest.LibraryCanonical(doc); err != nil {
			t.Fatal(err)
		}
	})
	var got []byte
	within(t, 5*lib+time.Second/2, "CanonicalJSON", func() { got, _ = attest.CanonicalJSON(doc) })
	if !bytes.Equal(got, want) {
		t.Fatal("canonical form differs from the library's")
	}
}
