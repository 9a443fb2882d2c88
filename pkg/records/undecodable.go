package records

import (
	"encoding/json"
	"errors"
)

// Undecodable is the error record that takes the place of raw, a record of
// a type the stage handles that does not decode: the record is neither
// passed on (the next stage would trip on it too) nor dropped (its source
// would lose a member without a word). It keeps what of the record's
// source, id, uri and path are strings, so the error stays with its source.
func Undecodable(stage string, raw *Raw, err error) *Error {
	var fields struct{ Source, ID, URI, Path, SHA256 any }
	_ = json.Unmarshal(raw.Line, &fields)
	str := func(v any) string { s, _ := v.(string); return s }
	e := &Error{Stage: stage, Source: str(fields.Source), ID: str(fields.ID), URI: str(fields.URI), Path: str(fields.Path)}
	if raw.Type == TypeSource {
		e.Source = str(fields.SHA256) // a source record's own digest, when it has one
	}
	var lineErr *LineError
	if errors.As(err, &lineErr) {
		err = lineErr.Err
	}
	e.Message = raw.Where + ": " + err.Error()
	return e
}
