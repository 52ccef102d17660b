package oci

// DecodeListing is decodeListing, for TestListingDecodesAsEncodingJSON.
var DecodeListing = decodeListing
