package lazyre_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/referee-dev/referee/internal/lazyre"
)

func TestNewCompilesOnceOnFirstUse(t *testing.T) {
	re := lazyre.New(`^a+$`)
	var wg sync.WaitGroup
	got := make([]any, 8)
	for i := range got {
		wg.Go(func() { got[i] = re() })
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("call %d returned a different *regexp.Regexp: compiled more than once", i)
		}
	}
	if !re().MatchString("aaa") || re().MatchString("ab") {
		t.Fatalf("%s matches the wrong strings", re())
	}
}

func TestNewPanicsOnlyWhenUsed(t *testing.T) {
	re := lazyre.New(`(`) // no panic here
	defer func() {
		if recover() == nil {
			t.Fatal("a bad expression did not panic at its first use")
		}
	}()
	re()
}

func ExampleNew() {
	tag := lazyre.New(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	fmt.Println(tag().MatchString("v1.2"), tag().MatchString("-v1"))
	// Output: true false
}
