package records

// Refuse makes src a refused source: one that failed verification, by
// the scheme by ("none" when nothing could vouch for it and --verify
// require asked for it), for the reason why. It returns the records
// that follow the source at once: the error record of the stage that
// refused it, and its end record, with no files and that one error. The
// sequence fits every stage's contract, so the set records the source
// and its failed job, while hashr-fetch and hashr-extract, seeing
// Refused, pass it through without reading its bytes.
func Refuse(src *Source, stage, by, signer string, why error) (*Error, *End) {
	src.Refused = true
	src.Local = ""
	src.Verified = &Verified{OK: false, By: by, Signer: signer, Detail: why.Error()}
	source := src.SHA256
	if source == "" {
		source = src.URI
	}
	failure := &Error{Stage: stage, Source: source, ID: src.ID, URI: src.URI, Message: why.Error()}
	return failure, &End{Source: source, Errors: 1}
}
