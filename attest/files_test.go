package attest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referee-dev/referee/attest"
)

// dirEntries lists dir, to check that failures leave no temporary files.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.link")
	if err := attest.WriteFileAtomic(p, []byte("one"), 0o644, false); err != nil {
		t.Fatal(err)
	}
	// Without force an existing file is kept.
	err := attest.WriteFileAtomic(p, []byte("two"), 0o644, false)
	if !errors.Is(err, attest.ErrExists) || !strings.Contains(err.Error(), p) {
		t.Fatalf("overwrite without force: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Fatalf("content %q after refused overwrite", b)
	}
	// With force it is replaced.
	if err := attest.WriteFileAtomic(p, []byte("three"), 0o600, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "three" {
		t.Fatalf("content %q after forced overwrite", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	// A dangling symlink counts as existing.
	if err := os.Symlink("nowhere", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := attest.WriteFileAtomic(filepath.Join(dir, "dangling"), []byte("x"), 0o644, false); !errors.Is(err, attest.ErrExists) {
		t.Fatalf("dangling symlink: %v", err)
	}
	// A failed write leaves nothing behind: here the target is a directory.
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub", "keep"), "k")
	if err := attest.WriteFileAtomic(filepath.Join(dir, "sub"), []byte("x"), 0o644, true); err == nil {
		t.Fatal("writing over a directory: no error")
	}
	if got := strings.Join(dirEntries(t, dir), " "); got != "dangling out.link sub" {
		t.Fatalf("directory holds %q after the failures", got)
	}
	// So does a missing directory.
	if err := attest.WriteFileAtomic(filepath.Join(dir, "no", "such", "f"), []byte("x"), 0o644, false); err == nil {
		t.Fatal("missing directory: no error")
	}
}

func TestWriteKeyPair(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "alice")
	s := testSigners(t)["ecdsa"]
	if err := attest.WriteKeyPair(p, s, false); err != nil {
		t.Fatal(err)
	}
	for file, mode := range map[string]os.FileMode{p: 0o600, p + ".pub": 0o644} {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", file, st.Mode().Perm(), mode)
		}
	}
	signer, err := attest.LoadSigner(p)
	if err != nil || signer.Key().KeyID != s.Key().KeyID {
		t.Fatalf("LoadSigner: %v", err)
	}
	pub, err := attest.LoadPublicKey(p + ".pub")
	if err != nil || pub.KeyID != s.Key().KeyID {
		t.Fatalf("LoadPublicKey: %v", err)
	}
	before, _ := os.ReadFile(p)
	// Without force neither file is touched, even if only one exists.
	other := testSigners(t)["ed25519"]
	if err := attest.WriteKeyPair(p, other, false); !errors.Is(err, attest.ErrExists) {
		t.Fatalf("overwrite: %v", err)
	}
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Fatal("private key changed by a refused keygen")
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := attest.WriteKeyPair(p, other, false); !errors.Is(err, attest.ErrExists) {
		t.Fatalf("only .pub exists: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("private key written although .pub exists")
	}
	if err := attest.WriteKeyPair(p, other, true); err != nil {
		t.Fatal(err)
	}
	if pub, err := attest.LoadPublicKey(p + ".pub"); err != nil || pub.KeyID != other.Key().KeyID {
		t.Fatalf("forced: %v", err)
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pub")
	writeFile(t, bad, `{"keytype":"dsa","scheme":"x","keyval":{"public":"00"}}`)
	_, err := attest.LoadPublicKey(bad)
	wantErr(t, err, bad, "unknown key type")
	_, err = attest.LoadSigner(bad)
	wantErr(t, err, bad, "unknown key type")
	_, err = attest.LoadPublicKey(dir)
	wantErr(t, err, dir, "not a regular file")
	_, err = attest.ReadEnvelopeFile(filepath.Join(dir, "missing.link"), 100)
	wantErr(t, err, "missing.link")
	big := filepath.Join(dir, "big.link")
	writeFile(t, big, strings.Repeat(" ", 101))
	_, err = attest.ReadEnvelopeFile(big, 100)
	wantErr(t, err, big, "more than the 100 allowed")
	trunc := filepath.Join(dir, "trunc.link")
	writeFile(t, trunc, `{"signed":{`)
	_, err = attest.ReadEnvelopeFile(trunc, 100)
	wantErr(t, err, trunc, "truncated")
}
