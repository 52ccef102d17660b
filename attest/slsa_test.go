package attest_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/referee-dev/referee/attest"
)

// slsaLayout is a layout whose build step alice (ed25519) and bob (ecdsa)
// may sign, with a push step rsa signs and an inspection.
func slsaLayout(t *testing.T, readme string) *attest.Layout {
	t.Helper()
	ss := testSigners(t)
	a, b, r := ss["ed25519"].Key(), ss["ecdsa"].Key(), ss["rsa"].Key()
	return &attest.Layout{
		Type: "layout", Expires: time.Now().Add(time.Hour).UTC().Format(attest.TimeFormat), Readme: readme,
		Keys: map[string]*attest.Key{a.KeyID: a, b.KeyID: b, r.KeyID: r},
		Steps: []attest.Step{
			{Type: "step", Name: "build", Threshold: 1, PubKeys: []string{a.KeyID, b.KeyID}},
			{Type: "step", Name: "my build", Threshold: 1, PubKeys: []string{a.KeyID}},
			{Type: "step", Name: "push", Threshold: 1, PubKeys: []string{r.KeyID}},
		},
		Inspect: []attest.Inspection{{Type: "inspection", Name: "untar", Run: []string{"true"}}},
	}
}

func TestLayoutSLSA(t *testing.T) {
	ss := testSigners(t)
	a, b := ss["ed25519"].Key(), ss["ecdsa"].Key()
	for _, tc := range []struct {
		name, line        string
		build             string
		hosted, hardened  []string
		isHosted, isHard  []string // layout keyids answering yes
		notHosted, notHrd []string
	}{
		{name: "build only", line: "referee-slsa: build=build", build: "build", notHosted: []string{a.KeyID, b.KeyID}, notHrd: []string{a.KeyID}},
		{name: "hosted and hardened", line: "referee-slsa: build=build hosted=" + a.KeyID + "," + b.KeyID + " hardened=" + a.KeyID,
			build: "build", hosted: []string{a.KeyID, b.KeyID}, hardened: []string{a.KeyID},
			isHosted: []string{a.KeyID, b.KeyID}, isHard: []string{a.KeyID}, notHrd: []string{b.KeyID}},
		{name: "fields in any order", line: "referee-slsa: hardened=" + a.KeyID + " hosted=" + a.KeyID + " build=build",
			build: "build", hosted: []string{a.KeyID}, hardened: []string{a.KeyID}, isHosted: []string{a.KeyID}, isHard: []string{a.KeyID}, notHosted: []string{b.KeyID}},
		{name: "current in-toto keyid", line: "referee-slsa: build=build hosted=" + b.CurrentID(),
			build: "build", hosted: []string{b.CurrentID()}, isHosted: []string{b.KeyID}, notHosted: []string{a.KeyID}},
		{name: "quoted step name", line: `referee-slsa: build="my build" hosted=` + a.KeyID,
			build: "my build", hosted: []string{a.KeyID}, isHosted: []string{a.KeyID}},
		{name: "trailing space", line: "referee-slsa: build=build \r", build: "build"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := slsaLayout(t, "the chain\n"+tc.line+"\nreferee-layout-version: 3")
			d, err := l.SLSA()
			if err != nil {
				t.Fatal(err)
			}
			if d.Build != tc.build || !reflect.DeepEqual(d.Hosted, tc.hosted) || !reflect.DeepEqual(d.Hardened, tc.hardened) {
				t.Fatalf("declaration %+v", d)
			}
			for _, id := range tc.isHosted {
				if !d.IsHosted(id) {
					t.Errorf("%s not hosted", id[:8])
				}
			}
			for _, id := range tc.isHard {
				if !d.IsHardened(id) {
					t.Errorf("%s not hardened", id[:8])
				}
			}
			for _, id := range tc.notHosted {
				if d.IsHosted(id) {
					t.Errorf("%s hosted", id[:8])
				}
			}
			for _, id := range tc.notHrd {
				if d.IsHardened(id) {
					t.Errorf("%s hardened", id[:8])
				}
			}
			// What SetSLSA writes reads back the same, through the
			// layout's signed encoding.
			l2 := slsaLayout(t, "the chain\nreferee-layout-version: 3")
			if err := l2.SetSLSA(d); err != nil {
				t.Fatal(err)
			}
			payload, err := l2.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := attest.ParseLayout(payload)
			if err != nil {
				t.Fatal(err)
			}
			d2, err := back.SLSA()
			if err != nil || d2.String() != d.String() {
				t.Fatalf("round trip %v: %q, want %q", err, d2, d)
			}
			if v, _ := back.Version(); v != 3 || !strings.HasPrefix(back.Readme, "the chain\n") {
				t.Errorf("readme %q", back.Readme)
			}
		})
	}
}

func TestLayoutSLSANone(t *testing.T) {
	d, err := slsaLayout(t, "no declaration here\nreferee-layout-version: 1").SLSA()
	if d != nil || err != nil {
		t.Fatalf("%+v %v", d, err)
	}
	// SetSLSA(nil) removes a declaration.
	l := slsaLayout(t, "x\nreferee-slsa: build=build")
	if err := l.SetSLSA(nil); err != nil || l.Readme != "x" {
		t.Fatalf("%v %q", err, l.Readme)
	}
}

func TestLayoutSLSAMalformed(t *testing.T) {
	ss := testSigners(t)
	a, b, r := ss["ed25519"].Key().KeyID, ss["ecdsa"].Key().KeyID, ss["rsa"].Key().KeyID
	for _, tc := range []struct {
		name, readme string
		want         []string
	}{
		{"no fields", "referee-slsa:", []string{`want "referee-slsa: build=STEP"`}},
		{"no space after colon", "referee-slsa:build=build", []string{"at the start of the line"}},
		{"indented", "  referee-slsa: build=build", []string{"at the start of the line"}},
		{"other spelling", "referee-slsa build=build", []string{"at the start of the line"}},
		{"no build", "referee-slsa: hosted=" + a, []string{"build=STEP is missing"}},
		{"build twice", "referee-slsa: build=build build=push", []string{"build is given twice"}},
		{"hosted twice", "referee-slsa: build=build hosted=" + a + " hosted=" + b, []string{"hosted is given twice"}},
		{"unknown field", "referee-slsa: build=build level=3", []string{`unknown field "level"`}},
		{"not field=value", "referee-slsa: build=build hosted", []string{`"hosted" is not FIELD=VALUE`}},
		{"two spaces", "referee-slsa: build=build  hosted=" + a, []string{"want one space"}},
		{"a tab", "referee-slsa: build=build\thosted=" + a, []string{"quoted"}},
		{"empty build", "referee-slsa: build= hosted=" + a, []string{"build names no step"}},
		{"empty hosted", "referee-slsa: build=build hosted=", []string{"hosted lists no keyid"}},
		{"empty keyid", "referee-slsa: build=build hosted=" + a + ",," + b, []string{"hosted has an empty keyid"}},
		{"keyid twice", "referee-slsa: build=build hosted=" + a + "," + a, []string{"lists keyid " + a[:8] + " twice"}},
		{"unterminated quote", `referee-slsa: build="my build`, []string{"not a quoted string"}},
		{"unquoted odd name", `referee-slsa: build=my"build`, []string{"is written quoted"}},
		{"quote then no space", `referee-slsa: build="my build"hosted=` + a, []string{"want one space"}},
		{"unknown step", "referee-slsa: build=compile", []string{`build step "compile" is not a step of the layout`}},
		{"an inspection", "referee-slsa: build=untar", []string{`build "untar" is an inspection`}},
		{"unknown key", "referee-slsa: build=build hosted=" + strings.Repeat("0", 64), []string{"hosted keyid 00000000 is not a key of the layout"}},
		{"not a functionary of the build", "referee-slsa: build=build hosted=" + r, []string{"hosted keyid " + r[:8] + ` is not a functionary of build step "build"`}},
		{"hardened not hosted", "referee-slsa: build=build hosted=" + b + " hardened=" + a, []string{"hardened keyid " + a[:8] + " is not also hosted"}},
		{"two lines", "referee-slsa: build=build\nreferee-slsa: build=push", []string{"2 referee-slsa: lines"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := slsaLayout(t, "chain\n"+tc.readme).SLSA()
			wantErr(t, err, tc.want...)
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
		})
	}
}
