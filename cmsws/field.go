package cmsws

import (
	"bytes"
	"encoding/json"
)

// FieldState says how an element appeared in a CMS update. CMS sends only the
// elements that changed, and JSON null for "unset", so the model has to tell
// "not mentioned" (keep the old value) from "now unset" (clear it) from a
// value, and a value it could not understand from all three.
type FieldState uint8

const (
	// Absent: the element was not in the update; the previous value stands.
	Absent FieldState = iota
	// Null: CMS sent JSON null; the element is now unset.
	Null
	// Valid: the element carries a value of the expected JSON type.
	Valid
	// Invalid: the element was present but not of the expected JSON type.
	// Raw holds what arrived, for the log line; the model treats it as
	// unchanged and counts it.
	Invalid
)

func (s FieldState) String() string {
	switch s {
	case Absent:
		return "absent"
	case Null:
		return "null"
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	}
	return "unknown"
}

// Field is one optional element of a CMS update. It never fails to decode:
// a value of the wrong type becomes State Invalid instead of aborting the
// whole message, so one garbage element cannot cost the rest of an update.
type Field[T any] struct {
	State FieldState
	Value T
	// Raw is the undecodable JSON text when State is Invalid.
	Raw string
}

// Set returns a Valid field holding v.
func Set[T any](v T) Field[T] { return Field[T]{State: Valid, Value: v} }

// NullField returns a field that encodes as JSON null.
func NullField[T any]() Field[T] { return Field[T]{State: Null} }

// IsZero makes `omitzero` drop absent fields when encoding (used by the fake
// server and by tests that build messages).
func (f Field[T]) IsZero() bool { return f.State == Absent }

// UnmarshalJSON is only called when the key is present (encoding/json skips
// absent keys), and it is called with "null" for JSON null.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	var zero T
	f.Value = zero
	f.Raw = ""
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		f.State = Null
		return nil
	}
	if err := json.Unmarshal(b, &f.Value); err != nil {
		f.Value = zero
		f.State = Invalid
		f.Raw = truncate(string(b), 64)
		return nil
	}
	f.State = Valid
	return nil
}

// MarshalJSON encodes Null (and, defensively, Absent and Invalid) as null.
func (f Field[T]) MarshalJSON() ([]byte, error) {
	if f.State != Valid {
		return []byte("null"), nil
	}
	return json.Marshal(f.Value)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
