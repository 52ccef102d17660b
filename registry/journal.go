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

// replay re-issues every journaled request to the inner handler. A last
// line that is incomplete or unreadable (the process died mid-write) is
// logged and cut off, so later appends start on a line of their own; any
// other bad line is an error naming the file and line.
// It returns the number of lines replayed.
func (j *journaled) replay() (int, error) {
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("manifest journal: %w", err)
	}
	defer f.Close()

	var (
		r       = bufio.NewReader(f)
		good    int64 // offset just after the last line replayed
		lineNo  int
		applied int
		pending error // parse error of the line just read, fatal unless it is the last
	)
	for {
		line, rerr := r.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return 0, fmt.Errorf("%s: %w", j.path, rerr)
		}
		if len(line) == 0 {
			break // clean end
		}
		if pending != nil {
			return 0, pending // a bad line followed by another: not a torn write
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
			return 0, fmt.Errorf("%s:%d: replaying %s %s:%s: %v", j.path, lineNo, e.Method, e.Repo, e.Reference, err)
		}
		good += int64(len(line))
		applied++
	}
	if pending != nil {
		j.log.Printf("registry: warning: %v (the last line; ignored, probably from a crash during a write)", pending)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("manifest journal: %w", err)
	}
	if st.Size() > good {
		if err := f.Truncate(good); err != nil {
			return 0, fmt.Errorf("manifest journal: cutting off the torn last line: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("manifest journal: %w", err)
	}
	// Make the journal's directory entry durable too.
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return applied, nil
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
		return fmt.Errorf("registry answered %d: %s", rec.status, bytes.TrimSpace(rec.body.Bytes()))
	}
	return nil
}
