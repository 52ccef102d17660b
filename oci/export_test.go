package oci

import "oras.land/oras-go/v2/registry/remote"

// DecodeListing is decodeListing, for TestListingDecodesAsEncodingJSON.
var DecodeListing = decodeListing

// ListsByAPI says what the store has learnt of its registry's listing:
// whether it knows, and whether the registry has the referrers API.
func ListsByAPI(s Store) (known, api bool) {
	repo, ok := s.(*remote.Repository)
	if !ok {
		return false, false
	}
	st, ok := listingStateOf(repo)
	if !ok {
		return false, false
	}
	state := st.referrers.Load()
	return state != apiUnknown, state == apiListed
}
