package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// NameMode says what the name label of cms_call_info carries. A meeting
// name can be confidential ("Acquisition of X – board"), and a metrics
// system is usually read by more people than the CMS admin pages.
type NameMode string

const (
	// NamesShow shows the name as CMS sends it (cleaned to a valid label
	// value). It is the default; the zero value NameMode("") means it too.
	NamesShow NameMode = "show"
	// NamesHash shows the first 12 hex digits of the SHA-256 of the name:
	// the same name gives the same value, so dashboards can still group by
	// it. This is pseudonymisation, not secrecy: anyone who can guess a
	// name ("Weekly sync") can hash it and find it.
	NamesHash NameMode = "hash"
	// NamesOmit leaves the name label empty. The label stays, so the label
	// set of cms_call_info (and every query using it) does not change.
	NamesOmit NameMode = "omit"
)

// nameHashLen is the hex digits NamesHash shows: 48 bits, ample to tell
// the meetings of one cluster apart.
const nameHashLen = 12

// ParseNameMode reads a configured mode: show, hash or omit; empty is
// show (the default).
func ParseNameMode(s string) (NameMode, error) {
	switch m := NameMode(s); m {
	case "":
		return NamesShow, nil
	case NamesShow, NamesHash, NamesOmit:
		return m, nil
	}
	return "", fmt.Errorf("meeting names mode %q: want %q, %q or %q", s, NamesShow, NamesHash, NamesOmit)
}

// nameLabel is the name label value of a meeting named raw under mode. It
// is the one place names become labels. No name stays empty in every mode.
// A mode other than the three (one that bypassed ParseNameMode) omits the
// name: a typo must fail closed, not reveal names.
func nameLabel(mode NameMode, raw string) string {
	switch mode {
	case NamesShow, "":
		return cleanLabel(raw)
	case NamesHash:
		if raw == "" {
			return ""
		}
		sum := sha256.Sum256([]byte(raw))
		return hex.EncodeToString(sum[:nameHashLen/2])
	}
	return ""
}

// SetMeetingNames switches what the name label carries at run time, for a
// configuration reload. Only labels change: the model, and what the
// roster include/exclude patterns match (the raw name), do not.
func (c *Collector) SetMeetingNames(mode NameMode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == mode {
		return
	}
	c.names = mode
	// The cached per-call series carry the old label, and so may a render
	// being built from a copy taken before this change: the new epoch
	// keeps it from being cached.
	c.cacheEpoch++
	for _, n := range c.nodes {
		for _, cl := range n.calls {
			cl.rendered = nil
		}
	}
}
