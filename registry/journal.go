package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// journalName is the manifest journal's file name under Options.Root.
const journalName = "manifests.jsonl"

// entry is one journal line: a manifest PUT or DELETE that succeeded. Body
// is base64 in the JSON (encoding/json's form for []byte).
type entry struct {
	Method      string `json:"method"`
	Repo        string `json:"repo"`
	Reference   string `json:"reference"`
	ContentType string `json:"contentType,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

func (e *entry) valid() error {
	switch {
	case e.Method != http.MethodPut && e.Method != http.MethodDelete:
		return fmt.Errorf("method %q is not PUT or DELETE", e.Method)
	case e.Repo == "" || e.Reference == "":
		return errors.New("repo or reference missing")
	case e.Method == http.MethodPut && len(e.Body) == 0:
		return errors.New("PUT without a body")
	}
	return nil
}

// append writes e as one line and syncs it to disk.
func (j *journaled) append(e entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("manifest journal %s: %w", j.path, err)
	}
	return nil
}

// replayStats counts what replay did.
type replayStats struct {
	applied int // lines replayed
	skipped int // lines skipped as harmless
}

// replay re-issues every journaled request to the inner handler.
//
// A last line that is incomplete or unreadable (the process died
// mid-write) is logged and cut off, so later appends start on a line of
// their own; any other unreadable line is an error naming the file and
// line. A change the registry refuses on replay is skipped, and logged,
// only when skipping it provably leaves what applying it would (see
// harmless): a DELETE of a reference already absent, a PUT of a manifest
// already stored, byte for byte, under its reference and digest. Any other
// refusal is an error naming the file and line: the journal does not say
// what the registry held.
func (j *journaled) replay() (replayStats, error) {
	var st replayStats
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return st, fmt.Errorf("manifest journal: %w", err)
	}
	defer f.Close()

	var (
		r       = bufio.NewReader(f)
		good    int64 // offset just after the last line replayed
		lineNo  int
		pending error // parse error of the line just read, fatal unless it is the last
	)
	for {
		line, rerr := r.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return st, fmt.Errorf("%s: %w", j.path, rerr)
		}
		if len(line) == 0 {
			break // clean end
		}
		if pending != nil {
			return st, pending // a bad line followed by another: not a torn write
		}
		lineNo++
		if rerr == io.EOF {
			// No newline: the write of this line never finished.
			j.log.Printf("registry: warning: %s:%d: ignoring incomplete last line (%d bytes), probably from a crash during a write", j.path, lineNo, len(line))
			break
		}
		var e entry
		err := json.Unmarshal(bytes.TrimSpace(line), &e)
		if err == nil {
			err = e.valid()
		}
		if err != nil {
			pending = fmt.Errorf("%s:%d: corrupt manifest journal line: %v", j.path, lineNo, err)
			continue
		}
		if err := j.apply(e); err != nil {
			why := j.harmless(e)
			if why == "" {
				return st, fmt.Errorf("%s:%d: cannot replay %s %s: %v; the registry cannot start from this journal (removing line %d drops that change)",
					j.path, lineNo, e.Method, e.ref(), err, lineNo)
			}
			j.log.Printf("registry: warning: %s:%d: skipped %s %s: %s", j.path, lineNo, e.Method, e.ref(), why)
			st.skipped++
		} else {
			st.applied++
		}
		good += int64(len(line))
	}
	if pending != nil {
		j.log.Printf("registry: warning: %v (the last line; ignored, probably from a crash during a write)", pending)
	}
	fi, err := f.Stat()
	if err != nil {
		return st, fmt.Errorf("manifest journal: %w", err)
	}
	if fi.Size() > good {
		if err := f.Truncate(good); err != nil {
			return st, fmt.Errorf("manifest journal: cutting off the torn last line: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return st, fmt.Errorf("manifest journal: %w", err)
	}
	// Make the journal's directory entry durable too.
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return st, nil
}

// harmless says why skipping a change the registry refused on replay
// leaves the registry as applying it would have, or "" if it may not.
// Such lines come from two registries that served one root at once (each
// deleting the same tag), before roots were locked.
func (j *journaled) harmless(e entry) string {
	switch e.Method {
	case http.MethodDelete:
		if status, _, _ := j.get(e.Repo, e.Reference); status == http.StatusNotFound {
			return "already absent (harmless: the journal records this change twice)"
		}
	case http.MethodPut:
		digest, _, _ := v1.SHA256(bytes.NewReader(e.Body))
		for _, ref := range []string{e.Reference, digest.String()} {
			status, ct, body := j.get(e.Repo, ref)
			if status != http.StatusOK || ct != e.ContentType || !bytes.Equal(body, e.Body) {
				return ""
			}
		}
		return "the same manifest is already stored under that reference and its digest (harmless)"
	}
	return ""
}

// get reads a manifest from the inner handler.
func (j *journaled) get(repo, ref string) (status int, contentType string, body []byte) {
	req, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		return 0, "", nil
	}
	req.URL = &url.URL{Path: "/v2/" + repo + "/manifests/" + ref}
	req.RequestURI = req.URL.RequestURI()
	rec := newRecorder()
	j.inner.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.header.Get("Content-Type"), rec.body.Bytes()
}

// ref is the entry's reference as a user writes it: repo:tag or
// repo@digest.
func (e *entry) ref() string {
	if strings.Contains(e.Reference, ":") {
		return e.Repo + "@" + e.Reference
	}
	return e.Repo + ":" + e.Reference
}

// apply sends one journaled request through the inner handler.
func (j *journaled) apply(e entry) error {
	req, err := http.NewRequest(e.Method, "/", bytes.NewReader(e.Body))
	if err != nil {
		return err
	}
	req.URL = &url.URL{Path: "/v2/" + e.Repo + "/manifests/" + e.Reference}
	req.RequestURI = req.URL.RequestURI()
	if e.ContentType != "" {
		req.Header.Set("Content-Type", e.ContentType)
	}
	rec := newRecorder()
	j.inner.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status/100 != 2 {
		return fmt.Errorf("registry answered %d%s", rec.status, errorText(rec.body.Bytes()))
	}
	j.index.apply(e)
	return nil
}

// errorText renders a distribution error body as ": CODE: message", or
// "" if it holds none.
func errorText(body []byte) string {
	var resp struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &resp) != nil || len(resp.Errors) == 0 {
		return ""
	}
	var b strings.Builder
	for _, e := range resp.Errors {
		fmt.Fprintf(&b, ": %s: %s", e.Code, e.Message)
	}
	return b.String()
}
