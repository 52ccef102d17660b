package attest

// The schemas of the documents referee reads, for CheckJSON. They are
// never changed after package initialisation.
//
// Layouts, links and their keys have the fixed fields of the in-toto v1.0
// specification and the references' models, and unknown fields are
// refused: in-toto-golang decodes them with DisallowUnknownFields, and
// Python's models drop unknown fields from the bytes they verify, so a
// Metablock with one verifies in neither. A layout key may carry
// "private" (empty in Python-made layouts, whose signature covers it).
// Envelopes have fixed fields too, but the references ignore others (they
// are not signed), so only case variants of the known ones are refused.
var (
	// anyValue is a value of any kind, checked only generically.
	anyValue = &Schema{}

	hashObjSchema = &Schema{Map: anyValue, FoldUnique: true}

	linkSchema = &Schema{Closed: true, Fields: map[string]*Schema{
		"_type":       anyValue,
		"name":        anyValue,
		"command":     anyValue,
		"materials":   {Map: hashObjSchema},
		"products":    {Map: hashObjSchema},
		"byproducts":  anyValue,
		"environment": anyValue,
	}}

	layoutKeySchema = &Schema{Closed: true, Fields: map[string]*Schema{
		"keyid":                 anyValue,
		"keytype":               anyValue,
		"scheme":                anyValue,
		"keyid_hash_algorithms": anyValue,
		"keyval": {Closed: true, Fields: map[string]*Schema{
			"public":  anyValue,
			"private": anyValue,
			// in-toto-golang lists a certificate's key with it.
			"certificate": anyValue,
		}},
	}}

	// keyFileSchema is a securesystemslib key file: not signed, and
	// Python's key schema allows other fields.
	keyFileSchema = &Schema{Fields: map[string]*Schema{
		"keyid":                 anyValue,
		"keytype":               anyValue,
		"scheme":                anyValue,
		"keyid_hash_algorithms": anyValue,
		"keyval": {Fields: map[string]*Schema{
			"public":  anyValue,
			"private": anyValue,
		}},
	}}

	layoutSchema = &Schema{Closed: true, Fields: map[string]*Schema{
		"_type":   anyValue,
		"expires": anyValue,
		"readme":  anyValue,
		"keys":    {Map: layoutKeySchema},
		"steps": {Elem: &Schema{Closed: true, Fields: map[string]*Schema{
			"_type":              anyValue,
			"name":               anyValue,
			"threshold":          anyValue,
			"pubkeys":            anyValue,
			"expected_command":   anyValue,
			"expected_materials": anyValue,
			"expected_products":  anyValue,
		}}},
		"inspect": {Elem: &Schema{Closed: true, Fields: map[string]*Schema{
			"_type":              anyValue,
			"name":               anyValue,
			"run":                anyValue,
			"expected_materials": anyValue,
			"expected_products":  anyValue,
		}}},
	}}

	// payloadKindSchema reads only "_type", whatever the payload.
	payloadKindSchema = &Schema{Fields: map[string]*Schema{"_type": anyValue}}

	// envelopeSchema covers both forms: DSSE (payloadType, payload,
	// signatures) and Metablock (signed, signatures; in-toto-golang's
	// signatures may carry "cert").
	envelopeSchema = &Schema{Fields: map[string]*Schema{
		"payloadType": anyValue,
		"payload":     anyValue,
		"signed":      anyValue,
		"signatures": {Elem: &Schema{Fields: map[string]*Schema{
			"keyid": anyValue,
			"sig":   anyValue,
			"cert":  anyValue,
		}}},
	}}
)

// StatementSchema returns the schema of an in-toto Statement v1 whose
// predicate has schema predicate (nil: not checked), for CheckJSON. As the
// attestation framework's parsing rules say, unknown (extension) fields
// are ignored; a field that differs from a known one in case, or that is
// its protobuf name ("predicate_type"), is refused, and so are digest
// algorithms that differ only in case. See
// https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
// and https://github.com/in-toto/attestation/blob/main/spec/v1/README.md#parsing-rules.
func StatementSchema(predicate *Schema) *Schema {
	return &Schema{Protobuf: true, Fields: map[string]*Schema{
		"_type":         anyValue,
		"subject":       {Elem: ResourceDescriptorSchema()},
		"predicateType": anyValue,
		"predicate":     predicate,
	}}
}

// ResourceDescriptorSchema returns the schema of an in-toto
// ResourceDescriptor, as StatementSchema checks it. See
// https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md.
func ResourceDescriptorSchema() *Schema {
	return &Schema{Protobuf: true, Fields: map[string]*Schema{
		"name":             anyValue,
		"uri":              anyValue,
		"digest":           DigestSetSchema(),
		"content":          anyValue,
		"downloadLocation": anyValue,
		"mediaType":        anyValue,
		"annotations":      anyValue,
	}}
}

// DigestSetSchema returns the schema of an in-toto DigestSet: algorithm
// names to digests, no two names differing only in case. See
// https://github.com/in-toto/attestation/blob/main/spec/v1/digest_set.md.
func DigestSetSchema() *Schema {
	return &Schema{Map: anyValue, FoldUnique: true}
}
