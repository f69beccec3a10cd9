package decoderbench

import (
	"testing"
)

// FuzzDecoders looks for inputs on which a decoder panics, starting from
// the captures. Differences from v1 are expected (TestSafety counts them);
// a panic is not.
func FuzzDecoders(f *testing.F) {
	for _, fr := range captureFrames(f) {
		f.Add(fr)
	}
	decs := Decoders()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dec := range decs {
			if _, p, _ := try(dec, data); p != nil {
				t.Fatalf("%s panicked: %v", dec.Name, p)
			}
		}
	})
}
