package attest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrExists is returned when a file would be overwritten without force.
var ErrExists = errors.New("file exists (use --force to overwrite)")

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so that a reader or a crash never sees half a
// file. Without force an existing path is left alone and ErrExists returned.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode, force bool) error {
	f, err := createAtomic(path, perm, force)
	if err != nil {
		return err
	}
	defer f.abort()
	if err := f.write(data); err != nil {
		return err
	}
	return f.commit()
}

// atomicFile is a file being written through a temporary file in the
// directory of path (WriteFileAtomic), put in place by commit.
type atomicFile struct {
	path  string
	force bool
	tmp   *os.File
}

// createAtomic starts writing path: without force, an existing path is
// ErrExists.
func createAtomic(path string, perm fs.FileMode, force bool) (*atomicFile, error) {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%s: %w", path, ErrExists)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	f := &atomicFile{path: path, force: force, tmp: tmp}
	if err := tmp.Chmod(perm); err != nil {
		f.abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return f, nil
}

func (f *atomicFile) write(data []byte) error {
	if _, err := f.tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// sync makes what is written so far durable (before commit, so that
// commit has less to wait for).
func (f *atomicFile) sync() error {
	if err := f.tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// commit makes the file durable and puts it at its path: renamed over
// it with force, else linked, so that a file created meanwhile is not
// replaced.
func (f *atomicFile) commit() error {
	if err := f.sync(); err != nil {
		return err
	}
	if err := f.tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if !f.force {
		if err := os.Link(f.tmp.Name(), f.path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", f.path, ErrExists)
			}
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
		return nil
	}
	if err := os.Rename(f.tmp.Name(), f.path); err != nil {
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// abort removes the temporary file (after commit: what link left, or
// nothing).
func (f *atomicFile) abort() {
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// ReadEnvelopeFile reads and parses a signed layout or link file; errors
// name the file.
func ReadEnvelopeFile(path string, limit int64) (*Envelope, error) {
	data, err := readLimited(path, limit)
	if err != nil {
		return nil, err
	}
	// data is this function's own: a Metablock's payload can stay a
	// slice of it (ParseEnvelope copies it).
	if e, ok := scanEnvelope(data); ok {
		return e, nil
	}
	e, err := parseEnvelope(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// LoadPublicKey reads a public-key file; errors name the file. A private
// key is refused (ErrPrivateKey), naming the public key beside it when there
// is one: where a public key is asked for (--layout-key, a layout's
// functionaries) a private key is a mistake that would spread it.
func LoadPublicKey(path string) (*Key, error) {
	data, err := readLimited(path, 1<<20)
	if err != nil {
		return nil, err
	}
	if holdsPrivateKey(data) {
		return nil, fmt.Errorf("%s: %w; give the public key%s", path, ErrPrivateKey, hintFile(path+".pub"))
	}
	k, err := parsePublic(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadAnyKey reads a public- or private-key file and returns its public
// key, for what needs only the key's identity (`referee key id`); errors
// name the file.
func LoadAnyKey(path string) (*Key, error) {
	data, err := readLimited(path, 1<<20)
	if err != nil {
		return nil, err
	}
	k, err := ParseAnyKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadSigner reads a private-key file; errors name the file. A public key
// is refused (ErrPublicKey), naming the private key beside it when there is
// one.
func LoadSigner(path string) (*Signer, error) {
	return LoadSignerPassword(path, nil)
}

// LoadSignerPassword is LoadSigner for key files that may be encrypted
// cosign keys (cosign generate-key-pair), whose password comes from
// password (nil: none can be given).
func LoadSignerPassword(path string, password func() ([]byte, error)) (*Signer, error) {
	data, err := readLimited(path, 1<<20)
	if err != nil {
		return nil, err
	}
	s, err := ParsePrivateKeyPassword(data, password)
	if errors.Is(err, ErrPublicKey) {
		hint := ""
		if priv := strings.TrimSuffix(path, ".pub"); priv != path {
			hint = hintFile(priv)
		}
		return nil, fmt.Errorf("%s: %w; give the private key%s", path, ErrPublicKey, hint)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// hintFile returns " (path)" if path is a regular file, else "".
func hintFile(path string) string {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		return " (" + path + ")"
	}
	return ""
}

// DefaultMaxFileSize bounds the layout and link files referee reads.
const DefaultMaxFileSize = 64 << 20

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", path, st.Size(), limit)
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// WriteKeyPair writes s's private key to path (PKCS#8 PEM, mode 0600) and
// its public key to path.pub (PKIX PEM). Without force, neither is written
// if either exists; a failure leaves neither behind.
func WriteKeyPair(path string, s *Signer, force bool) error {
	priv, err := s.MarshalPrivatePEM()
	if err != nil {
		return err
	}
	pub, err := s.Key().MarshalPublicPEM()
	if err != nil {
		return err
	}
	if !force {
		for _, p := range []string{path, path + ".pub"} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s: %w", p, ErrExists)
			}
		}
	}
	if err := WriteFileAtomic(path, priv, 0o600, force); err != nil {
		return err
	}
	if err := WriteFileAtomic(path+".pub", pub, 0o644, force); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
