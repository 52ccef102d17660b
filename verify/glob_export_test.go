package verify

// GlobMatch matches s against an artifact-rule pattern as the engine does.
func GlobMatch(pattern, s string) (bool, error) {
	g, err := compileGlob(pattern)
	if err != nil {
		return false, err
	}
	return g.match(s), nil
}
