package decoderbench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestSafety feeds every decoder the captures, the exporter's fuzz corpus
// and a fixed set of mutations of the captures (bytes flipped, values made
// null or of another type, keys folded or doubled, escapes, cuts), and
// prints per decoder how many inputs made it panic and, against
// encoding/json v1, how many it accepted or refused differently and how
// many it decoded with another absent/null/value/invalid state or another
// value. cmsws.DecodeFrame decodes into other types (and keeps the good
// entries of a list with a bad one): it is held to v1 by its own
// differential fuzz target (cmsws.FuzzDecodeFrame), here only to not
// panicking. The test fails only on a panic of v1 or of cmsws.DecodeFrame.
func TestSafety(t *testing.T) {
	inputs := safetyCorpus(t)
	decs := Decoders()
	type tally struct{ panics, acceptDiff, stateDiff, valueDiff int }
	tallies := make([]tally, len(decs))
	for _, in := range inputs {
		ref, refPanic, refErr := try(decs[0], in)
		for i, dec := range decs {
			got, panicked, err := ref, refPanic, refErr
			if i > 0 {
				got, panicked, err = try(dec, in)
			}
			tl := &tallies[i]
			if panicked != nil {
				tl.panics++
				if i == 0 || dec.Name == "cmsws.DecodeFrame" {
					t.Errorf("%s panicked (%v) on %q", dec.Name, panicked, in)
				}
				continue
			}
			if dec.Name == "cmsws.DecodeFrame" || refPanic != nil {
				continue
			}
			switch {
			case (err == nil) != (refErr == nil):
				tl.acceptDiff++
			case err != nil:
			case canon(got, true) != canon(ref, true):
				tl.stateDiff++
			case canon(got, false) != canon(ref, false):
				tl.valueDiff++
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%d inputs (captures, fuzz corpus, mutations)\n\n", len(inputs))
	sb.WriteString("| decoder | panics | accepts/refuses unlike v1 | other field state than v1 | other value than v1 |\n|---|--:|--:|--:|--:|\n")
	for i, dec := range decs {
		tl := tallies[i]
		if dec.Name == "cmsws.DecodeFrame" {
			fmt.Fprintf(&sb, "| %s | %d | see cmsws.FuzzDecodeFrame | | |\n", dec.Name, tl.panics)
			continue
		}
		fmt.Fprintf(&sb, "| %s | %d | %d | %d | %d |\n", dec.Name, tl.panics, tl.acceptDiff, tl.stateDiff, tl.valueDiff)
	}
	t.Log(sb.String())
}

// try decodes in with dec, turning a panic into a value.
func try(dec Decoder, in []byte) (got, panicked any, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	got, err = dec.Decode(in)
	return got, nil, err
}

// safetyCorpus is the captures, the committed fuzz inputs of the exporter's
// decoder, and mutations of the captures from a fixed seed.
func safetyCorpus(t *testing.T) [][]byte {
	frames := captureFrames(t)
	inputs := append([][]byte(nil), frames...)
	corpus, _ := filepath.Glob("../../cmsws/testdata/fuzz/FuzzDecodeFrame/*")
	for _, name := range corpus {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// go test fuzz v1, then []byte("...") with Go escapes.
		for _, line := range strings.Split(string(b), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(q, ")")); err == nil {
					inputs = append(inputs, []byte(s))
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(11, 2026))
	for range 20 {
		for _, f := range frames {
			inputs = append(inputs, mutate(rng, f))
		}
	}
	return inputs
}

// mutate makes one variation of a frame of the kinds decoders get wrong.
func mutate(rng *rand.Rand, f []byte) []byte {
	out := bytes.Clone(f)
	// The start of a random key, for the key and value mutations.
	keyAt := func() int {
		for range 20 {
			i := rng.IntN(len(out))
			if j := bytes.Index(out[i:], []byte(`":`)); j > 0 {
				k := bytes.LastIndexByte(out[:i+j], '"')
				if k >= 0 {
					return k
				}
			}
		}
		return -1
	}
	valueAt := func() (int, int) { // bounds of a scalar value after a key
		k := keyAt()
		if k < 0 {
			return -1, -1
		}
		s := k + bytes.Index(out[k:], []byte(`":`)) + 2
		e := s
		for e < len(out) && !bytes.ContainsRune([]byte(",}]"), rune(out[e])) {
			if out[e] == '"' {
				e++
				for e < len(out) && out[e] != '"' {
					e++
				}
			}
			e++
		}
		return s, min(e, len(out))
	}
	replacements := []string{`null`, `"x"`, `1`, `1.5`, `-0`, `1e999`, `9223372036854775808`, `true`,
		`[]`, `{}`, `"\u00e9"`, `"\ud800"`, `"a\"b"`, "\"\xff\"", `[null]`, `{"a":[1,{}]}`}
	switch rng.IntN(8) {
	case 0: // flip one byte
		out[rng.IntN(len(out))] = "{}[]\":,\\ 0-.enutfx\x00\xc3"[rng.IntN(20)]
	case 1: // a value replaced
		if s, e := valueAt(); s >= 0 {
			out = append(out[:s:s], append([]byte(replacements[rng.IntN(len(replacements))]), out[e:]...)...)
		}
	case 2: // a key's first letter upper-cased, or the Kelvin sign / long s
		if k := keyAt(); k >= 0 && k+1 < len(out) {
			switch c := out[k+1]; {
			case c == 'k' || c == 's':
				sign := "\u212a"
				if c == 's' {
					sign = "\u017f"
				}
				out = append(out[:k+1:k+1], append([]byte(sign), out[k+2:]...)...)
			case 'a' <= c && c <= 'z':
				out[k+1] = c - 'a' + 'A'
			}
		}
	case 3: // a key-value pair doubled with another value
		if s, e := valueAt(); s >= 0 {
			k := bytes.LastIndexByte(out[:s-2], '"')
			pair := append(bytes.Clone(out[k:s]), replacements[rng.IntN(len(replacements))]...)
			out = append(out[:e:e], append(append([]byte{','}, pair...), out[e:]...)...)
		}
	case 4: // cut short
		out = out[:rng.IntN(len(out))]
	case 5: // trailing bytes
		out = append(out, []string{" ", "x", "{}", "\n\n"}[rng.IntN(4)]...)
	case 6: // an unknown key with a deep value
		if k := keyAt(); k >= 0 {
			n := rng.IntN(12000)
			deep := `"zz":` + strings.Repeat("[", n) + strings.Repeat("]", n) + ","
			out = append(out[:k:k], append([]byte(deep), out[k:]...)...)
		}
	case 7: // an escape in a key
		if k := keyAt(); k >= 0 && k+1 < len(out) && out[k+1] < 0x80 {
			esc := fmt.Sprintf(`\u%04x`, out[k+1])
			out = append(out[:k+1:k+1], append([]byte(esc), out[k+2:]...)...)
		}
	}
	return out
}

// canon renders a decoded value the same way whatever its types: pointers
// followed, nil and empty kept apart, embedded structs inlined, and, when
// statesOnly, only the State of each Field.
func canon(v any, statesOnly bool) string {
	var sb strings.Builder
	canonValue(&sb, reflect.ValueOf(v), statesOnly)
	return sb.String()
}

func canonValue(sb *strings.Builder, v reflect.Value, statesOnly bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			sb.WriteString("nil")
			return
		}
		sb.WriteByte('&')
		canonValue(sb, v.Elem(), statesOnly)
	case reflect.Slice:
		if v.IsNil() {
			sb.WriteString("nil")
			return
		}
		sb.WriteByte('[')
		for i := range v.Len() {
			canonValue(sb, v.Index(i), statesOnly)
			sb.WriteByte(',')
		}
		sb.WriteByte(']')
	case reflect.Struct:
		isField := strings.HasPrefix(v.Type().Name(), "Field")
		sb.WriteByte('{')
		canonFields(sb, v, statesOnly, isField)
		sb.WriteByte('}')
	case reflect.String:
		sb.WriteString(strconv.Quote(v.String()))
	default:
		fmt.Fprint(sb, v.Interface())
	}
}

func canonFields(sb *strings.Builder, v reflect.Value, statesOnly, isField bool) {
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		if sf.Anonymous {
			canonFields(sb, v.Field(i), statesOnly, false)
			continue
		}
		if isField && statesOnly && sf.Name != "State" {
			continue
		}
		sb.WriteString(sf.Name)
		sb.WriteByte(':')
		canonValue(sb, v.Field(i), statesOnly)
		sb.WriteByte(' ')
	}
}
