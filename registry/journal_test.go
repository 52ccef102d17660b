package registry_test

import (
	"bytes"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/referee-dev/referee/registry"
)

// TestJournalReplayIndex: a PUT the registry refuses on replay (an index
// whose child manifest was deleted before it) is skipped only if the same
// bytes are already stored under its reference and digest; otherwise the
// registry does not start and says which line.
func TestJournalReplayIndex(t *testing.T) {
	for _, tc := range []struct {
		name    string
		extra   func(idxLine map[string]any)
		warn    string
		wantErr string
	}{
		{
			name:  "same index again",
			extra: func(map[string]any) {},
			warn:  "skipped PUT demo/app:idx: the same manifest is already stored",
		},
		{
			name:    "index under a new tag",
			extra:   func(e map[string]any) { e["reference"] = "idx2" },
			wantErr: "cannot replay PUT demo/app:idx2: registry answered 404: MANIFEST_UNKNOWN: Sub-manifest",
		},
		{
			name:    "another media type",
			extra:   func(e map[string]any) { e["contentType"] = "application/vnd.docker.distribution.manifest.list.v2+json" },
			wantErr: "cannot replay PUT demo/app:idx",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			srv := start(t, registry.Options{Root: root})
			repo := repoOf(t, srv, "demo/app")
			child, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(repo.Tag("child"), child); err != nil {
				t.Fatal(err)
			}
			idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: child})
			if err := remote.WriteIndex(repo.Tag("idx"), idx); err != nil {
				t.Fatal(err)
			}
			cd, _ := child.Digest()
			if resp := do(t, http.MethodDelete, srv.URL+"/v2/demo/app/manifests/"+cd.String(), "", nil); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("DELETE child: %s", resp.Status)
			}
			srv.Close()

			journal := filepath.Join(root, "manifests.jsonl")
			b, err := os.ReadFile(journal)
			if err != nil {
				t.Fatal(err)
			}
			var line map[string]any
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var e map[string]any
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				if e["reference"] == "idx" {
					line = e
				}
			}
			tc.extra(line)
			add, _ := json.Marshal(line)
			b = append(b, append(add, '\n')...)
			if err := os.WriteFile(journal, b, 0o644); err != nil {
				t.Fatal(err)
			}
			lineNo := bytes.Count(b, []byte("\n"))

			var logs bytes.Buffer
			reg, err := registry.New(registry.Options{Root: root, Logger: log.New(&logs, "", 0)})
			if tc.wantErr != "" {
				if err == nil {
					reg.Close()
					t.Fatal("New succeeded")
				}
				where := journal + ":" + strconv.Itoa(lineNo) + ":"
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), where) {
					t.Fatalf("New: %v\nwant %q and %q", err, where, tc.wantErr)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			srv = serveReg(t, reg)
			if !strings.Contains(logs.String(), tc.warn) {
				t.Errorf("log %q does not say %q", logs.String(), tc.warn)
			}
			want, _ := idx.Digest()
			got, err := remote.Index(repoOf(t, srv, "demo/app").Tag("idx"))
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := got.Digest(); d != want {
				t.Errorf("idx is %s, want %s", d, want)
			}
		})
	}
}
