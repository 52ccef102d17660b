package verify

import "github.com/referee-dev/referee/attest"

// SharePathTables shares the paths of tables as the engine does for the
// links it examines, and returns how many shared an earlier table's.
func SharePathTables(tables ...*attest.Artifacts) int {
	var p pathTables
	shared := 0
	for _, a := range tables {
		shared += p.share(a)
	}
	return shared
}
