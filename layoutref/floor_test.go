package layoutref_test

import (
	"testing"

	"github.com/referee-dev/referee/layoutref"
)

func TestFloors(t *testing.T) {
	var fs layoutref.Floors
	for _, s := range []string{"registry.example.com/shop/**=3", "registry.example.com/*=2", "1"} {
		f, err := layoutref.ParseFloor(s)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	for repo, want := range map[string]int{
		"registry.example.com/shop/cart":       3,
		"registry.example.com/shop/cart/api":   3,
		"registry.example.com/tools":           2,
		"registry.example.com/tools/sub":       1,
		"other.example.com/shop/cart":          1,
		"registry.example.com/shopping/basket": 1,
	} {
		if got := fs.For(repo); got != want {
			t.Errorf("For(%q) = %d, want %d", repo, got, want)
		}
	}
	if got := (layoutref.Floors{}).For("x/y"); got != 0 {
		t.Errorf("no floors: %d", got)
	}
}

func TestParseFloorRefuses(t *testing.T) {
	for _, s := range []string{"", "x", "-1", "=3", "a/b=", "a/b=x", "a/b=-2", "3.5"} {
		if _, err := layoutref.ParseFloor(s); err == nil {
			t.Errorf("ParseFloor(%q) accepted", s)
		}
	}
}

func TestFloorLiteral(t *testing.T) {
	fs := layoutref.Floors{{Pattern: "r.example.com/**", Version: 4}}
	if got := fs.For("r.example.com/a/b"); got != 4 {
		t.Errorf("literal floor: %d", got)
	}
}
