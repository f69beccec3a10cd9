package collector

import (
	"fmt"
	"strconv"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// invalidReporter is where applyField reports a value it leaves unchanged
// because it is invalid: the applier of a call or of a roster update, which
// knows what the log line must name.
type invalidReporter interface {
	reportInvalid(element, raw string)
}

// applyField applies one element of an update under the Field rules that
// calls and participants share: Absent leaves the element unchanged; Null
// resets *dst to null and clears bit in *set (the elements that hold a
// value from CMS); Valid stores what read makes of the value and sets bit;
// and a value read refuses (outside the element's documented values), or
// one of the wrong JSON type (Invalid), leaves the element unchanged and is
// reported, since CMS sent something we cannot use. It reports whether the
// element was updated (to null or a value).
func applyField[R invalidReporter, S ~uint16, T, V any](r R, element string, f cmsws.Field[T], read func(T) (V, bool), null V, dst *V, set *S, bit S) bool {
	switch f.State {
	case cmsws.Null:
		*dst = null
		*set &^= bit
		return true
	case cmsws.Valid:
		v, ok := read(f.Value)
		if !ok {
			r.reportInvalid(element, formatValue(f.Value))
			return false
		}
		*dst = v
		*set |= bit
		return true
	case cmsws.Invalid:
		r.reportInvalid(element, f.Raw)
	}
	return false
}

// formatValue renders a refused value for the log as its JSON reads: a
// string quoted, a number as it is.
func formatValue[T any](v T) string {
	switch x := any(v).(type) {
	case string:
		return strconv.Quote(x)
	case int:
		return strconv.Itoa(x)
	}
	return fmt.Sprint(v)
}

// activeValues and lockValues map CMS's enum strings to on/off. The guide
// uses "unlocked" for callInfo and real traffic "notLocked": both are off.
var (
	activeValues = map[string]bool{"active": true, "inactive": false}
	lockValues   = map[string]bool{"locked": true, "notLocked": false, "unlocked": false}
)

// readActive reads an on/off element spelled active/inactive.
func readActive(v string) (bool, bool) {
	on, ok := activeValues[v]
	return on, ok
}

// readBool reads a JSON boolean element: every value is valid.
func readBool(v bool) (bool, bool) { return v, true }
