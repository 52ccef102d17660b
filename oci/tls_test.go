package oci_test

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/referee-dev/referee/attest"
	"github.com/referee-dev/referee/oci"
)

// A registry with TLS from a private CA is reached with --ca-file, and
// refused without it.
func TestTLSWithCAFile(t *testing.T) {
	srv := httptest.NewUnstartedServer(ggcr.New(ggcr.WithReferrersSupport(true), ggcr.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	ctx := context.Background()
	ref, _ := oci.ParseReference(host + "/app:v1")
	s, err := oci.Open(ctx, ref, oci.Options{CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	image := pushImage(t, s, "tls")
	sc := newSupplyChain(t, attest.FormDSSE)
	if _, err := oci.Attach(ctx, s, image, sc.links["build"], oci.AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := oci.OpenResolved(ctx, host+"/app:v1", oci.Options{CAFile: ca}); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	// Without the CA file the loopback registry is spoken to in plain
	// HTTP, which a TLS server refuses.
	if _, _, _, err := oci.OpenResolved(ctx, host+"/app:v1", oci.Options{}); err == nil {
		t.Fatal("reached a TLS registry over plain HTTP")
	}
	if _, err := oci.Open(ctx, ref, oci.Options{CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}
