package main

import (
	"io"
	"reflect"
	"testing"
)

func TestInterspersedFlags(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want []string }{
		{[]string{"referee", "pull", "reg/app:v1", "--out", "dir"}, []string{"referee", "pull", "--out", "dir", "reg/app:v1"}},
		{[]string{"referee", "pull", "reg/app:v1", "--out=dir", "--plain-http"}, []string{"referee", "pull", "--out=dir", "--plain-http", "reg/app:v1"}},
		{[]string{"referee", "run", "-n", "s", "-k", "k", "--", "echo", "--out", "x"}, []string{"referee", "run", "-n", "s", "-k", "k", "--", "echo", "--out", "x"}},
		{[]string{"referee", "layout", "show", "f", "--help"}, []string{"referee", "layout", "show", "--help", "f"}},
		{[]string{"referee", "attach", "img", "a.link", "--step", "build", "b.link"}, []string{"referee", "attach", "--step", "build", "img", "a.link", "b.link"}},
		{[]string{"referee", "nosuch", "x", "--y"}, []string{"referee", "nosuch", "x", "--y"}},
	} {
		if got := interspersed(app, tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("interspersed(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
