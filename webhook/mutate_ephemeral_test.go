package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/referee-dev/referee/webhook"
)

// TestMutateEphemeralContainers: kubectl debug (an UPDATE of
// pods/ephemeralcontainers) with a tag gets the ephemeral container
// pinned, and only it (the Pod's other images are not new), in a Pod of
// its own and in a Pod a ReplicaSet owns: no template holds ephemeral
// containers, so pinning them makes no owner roll out.
func TestMutateEphemeralContainers(t *testing.T) {
	f := newFixture(t, "unmatched: allow\n")
	d := webhook.NewDecider(f.policy, webhook.DeciderOptions{})
	tag := f.reg.host + "/shop/app:demo"
	want := jsonOf(t, []patchOp{{"replace", "/spec/ephemeralContainers/0/image", tag + "@" + f.goodDigest}})
	for _, owned := range []bool{false, true} {
		data := strings.ReplaceAll(string(readReview(t, "pod-ephemeralcontainers.json")), `"busybox:1.36"`, `"`+tag+`"`)
		if owned {
			var review map[string]any
			if err := json.Unmarshal([]byte(data), &review); err != nil {
				t.Fatal(err)
			}
			req := review["request"].(map[string]any)
			for _, k := range []string{"object", "oldObject"} {
				req[k].(map[string]any)["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
					"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "shop-5d4f8", "uid": "rs-1", "controller": true}}
			}
			b, err := json.Marshal(review)
			if err != nil {
				t.Fatal(err)
			}
			data = string(b)
		}
		r, err := webhook.DecodeReview([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		ops, warnings := mutate(t, d, r)
		if got := jsonOf(t, ops); got != want || warnings != nil {
			t.Errorf("owned %v: patch %s (want %s), warnings %q", owned, got, want, warnings)
		}
	}
}
