package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Extra holds a record's fields that its type does not declare, as the
// exact JSON values read, so they survive a decode and re-encode.
type Extra map[string]json.RawMessage

// Marshal encodes a typed record as one JSON object without a trailing
// newline: "type" first, then the declared fields in contract order, then
// the extra fields sorted by name. HTML characters are not escaped.
func Marshal(rec Record) ([]byte, error) {
	return MarshalAppend(nil, rec)
}

// MarshalAppend appends Marshal's encoding of rec to dst: a writer that
// encodes record after record reuses one buffer (hashr-lookup writes every
// hashed file's record with its answer after it).
func MarshalAppend(dst []byte, rec Record) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := appendRecord(buf, rec); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

func appendRecord(buf *bytes.Buffer, rec Record) error {
	start := buf.Len()
	buf.WriteString(`{"type":`)
	writeJSONString(buf, rec.RecordType())
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	fieldsAt := buf.Len()
	// The declared fields: the record's struct without its methods, so the
	// encoder does not come back here.
	if err := enc.Encode(structOf(rec)); err != nil {
		buf.Truncate(start)
		return fmt.Errorf("encoding %s record: %w", rec.RecordType(), err)
	}
	// enc.Encode wrote {...}\n: keep the inside, after a comma when not empty.
	inner := bytes.TrimSpace(buf.Bytes()[fieldsAt:])
	inner = inner[1 : len(inner)-1]
	n := copy(buf.Bytes()[fieldsAt+1:], inner)
	buf.Truncate(fieldsAt + 1 + n)
	if n > 0 {
		buf.Bytes()[fieldsAt] = ','
	} else {
		buf.Truncate(fieldsAt)
	}
	extra := *rec.extraFields()
	known := knownFields(rec)
	for _, k := range slices.Sorted(mapsKeys(extra)) {
		if k == "type" || known[k] {
			continue // a declared field always wins over a stale extra
		}
		buf.WriteByte(',')
		writeJSONString(buf, k)
		buf.WriteByte(':')
		if err := json.Compact(buf, extra[k]); err != nil {
			buf.Truncate(start)
			return fmt.Errorf("encoding %s record: field %q: %w", rec.RecordType(), k, err)
		}
	}
	buf.WriteByte('}')
	return nil
}

func mapsKeys(m Extra) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

// structOf returns the record's fields as a value of a method-free type.
func structOf(rec Record) any {
	switch r := rec.(type) {
	case *Source:
		type plain Source
		return (*plain)(r)
	case *File:
		type plain File
		return (*plain)(r)
	case *Error:
		type plain Error
		return (*plain)(r)
	case *End:
		type plain End
		return (*plain)(r)
	case *Plan:
		type plain Plan
		return (*plain)(r)
	}
	panic(fmt.Sprintf("records: unknown record type %T", rec))
}

var knownCache sync.Map // reflect.Type -> map[string]bool

// knownFields is the set of JSON names the record's type declares.
func knownFields(rec Record) map[string]bool {
	t := reflect.TypeOf(rec).Elem()
	if m, ok := knownCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{"type": true}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	knownCache.Store(t, m)
	return m
}

// New returns an empty record of the given type, or nil for a type this
// package does not define.
func New(typ string) Record {
	switch typ {
	case TypeSource:
		return &Source{}
	case TypeFile:
		return &File{}
	case TypeError:
		return &Error{}
	case TypeEnd:
		return &End{}
	case TypePlan:
		return &Plan{}
	}
	return nil
}

// decodeFields fills rec from the fields of one JSON object. Names are
// matched exactly (encoding/json alone would also match "Path" to path);
// every field rec does not declare goes to its Extra.
func decodeFields(rec Record, data []byte, fields map[string]json.RawMessage) error {
	known := knownFields(rec)
	declared := make(map[string]json.RawMessage, len(fields))
	var extra Extra
	for k, v := range fields {
		switch {
		case k == "type":
		case known[k]:
			declared[k] = v
		default:
			if extra == nil {
				extra = Extra{}
			}
			extra[k] = v
		}
	}
	if extra != nil {
		// Decode only the declared fields, so that an extra "Path" cannot
		// land in Path; without extras every name is exact and data will do.
		var err error
		if data, err = json.Marshal(declared); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(data, structOf(rec)); err != nil {
		return describeDecodeError(err)
	}
	*rec.extraFields() = extra
	return nil
}

// describeDecodeError turns encoding/json's Go-flavoured messages into ones
// that name the record field.
func describeDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("field %q: want %s, got JSON %s", te.Field, jsonKind(te.Type), te.Value)
	}
	return err
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Map:
		return "an object"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(jsonKind(t.Elem()), "a ") + "s"
	}
	return t.String()
}

// Unmarshal decodes one JSON object into a typed record. The object's
// "type" must name one of the record types.
func Unmarshal(data []byte) (Record, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	typ, err := typeOf(fields)
	if err != nil {
		return nil, err
	}
	rec := New(typ)
	if rec == nil {
		return nil, fmt.Errorf("unknown record type %q", typ)
	}
	if err := decodeFields(rec, data, fields); err != nil {
		return nil, fmt.Errorf("%s record: %w", typ, err)
	}
	return rec, nil
}

func typeOf(fields map[string]json.RawMessage) (string, error) {
	raw, ok := fields["type"]
	if !ok {
		return "", fmt.Errorf(`record has no "type" field`)
	}
	var typ string
	if err := json.Unmarshal(raw, &typ); err != nil || typ == "" {
		return "", fmt.Errorf(`record's "type" is %s, want a non-empty string`, raw)
	}
	return typ, nil
}
