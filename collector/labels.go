package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// Label values that come from the network are mapped onto these fixed sets
// so that a misbehaving server or a newer CMS cannot explode cardinality.
// The known values are also rendered as zero rows, so rate() works from the
// first increment.

const labelOther = "other"

// callTypeUnknown labels calls whose callType CMS has not (validly) set.
const callTypeUnknown = "unknown"

var (
	knownCallTypes = [...]string{"coSpace", "adHoc", "lyncConferencing", "forwarding"}

	knownMessageTypes = []string{cmsws.TypeSubscriptionUpdate, cmsws.TypeCallListUpdate,
		cmsws.TypeRosterUpdate, cmsws.TypeCallInfoUpdate}

	knownConnectFailures = []string{cmsws.ConnectFailureAuth, cmsws.ConnectFailureToken,
		cmsws.ConnectFailureNetwork, cmsws.ConnectFailureTLS, cmsws.ConnectFailureHandshake}

	knownDisconnects = []string{cmsws.DisconnectProbeTimeout, cmsws.DisconnectReadError,
		cmsws.DisconnectServerClose, cmsws.DisconnectWriteError,
		cmsws.DisconnectShutdown, cmsws.DisconnectMessageTooLarge}

	knownErrorReasons = []string{
		// decoding, from cmsws
		cmsws.ReasonMalformedJSON, cmsws.ReasonUnknownEnvelope, cmsws.ReasonMissingMessageID,
		cmsws.ReasonBadUpdates, cmsws.ReasonBadEntry,
		// protocol, from cmsws
		cmsws.MessageErrorUnknownType, cmsws.MessageErrorUnknownSubscription,
		cmsws.MessageErrorUnexpectedAck, cmsws.MessageErrorSequence, cmsws.MessageErrorPing,
		// the model's own
		reasonUnknownCall, reasonInvalidValue, reasonRequestFailed, reasonWrongResource,
		reasonUnknownParticipant,
	}

	knownResources = []string{string(cmsws.ResourceCalls), string(cmsws.ResourceCallRoster),
		string(cmsws.ResourceCallInfo)}

	knownSubStates = []string{cmsws.StatePending, cmsws.StateActive, cmsws.StateDeactivated}
)

// Model error reasons for cms_events_message_errors_total.
const (
	// reasonUnknownCall: an update or remove for a call id the model does
	// not hold (a lost add, or a message out of order).
	reasonUnknownCall = "unknown_call"
	// reasonInvalidValue: an element of the wrong JSON type or outside its
	// documented values; the element is left unchanged.
	reasonInvalidValue = "invalid_value"
	// reasonRequestFailed: the server acked one of our requests with a
	// status other than success.
	reasonRequestFailed = "request_failed"
	// reasonWrongResource: a callListUpdate on a subscription that is not a
	// calls subscription (or a rosterUpdate on one that is not callRoster).
	reasonWrongResource = "wrong_resource"
	// reasonUnknownParticipant: a roster update or remove for a participant
	// the meeting's roster does not hold (and who did not just leave).
	reasonUnknownParticipant = "unknown_participant"
)

// Leave reasons of cms_participants_left_total: the ones seen in real
// traffic, then "other" (an unexpected value) and "none" (absent or null:
// CMS gives no reason for participants hosted on another node).
const leaveReasonNone = "none"

var leaveReasons = [...]string{"timeout", "noAnswer", "notFound", "remoteTeardown", "callEnded",
	"unknownDestination", labelOther, leaveReasonNone}

// The indexes of other and none, the last two leave reasons.
const (
	leaveOther = len(leaveReasons) - 2
	leaveNone  = len(leaveReasons) - 1
)

// leaveReasonIndex maps a removal's reason onto leaveReasons.
func leaveReasonIndex(f cmsws.Field[string]) int {
	switch f.State {
	case cmsws.Valid:
		if i := slices.Index(leaveReasons[:leaveOther], f.Value); i >= 0 {
			return i
		}
		return leaveOther
	case cmsws.Invalid:
		return leaveOther
	}
	return leaveNone
}

// knownOrOther returns v if it is one of known, else "other".
func knownOrOther(v string, known []string) string {
	if slices.Contains(known, v) {
		return v
	}
	return labelOther
}

// maxLabelLen caps names and ids that become label values: a CMS space name
// is short in practice, and a label of kilobytes would only be an accident.
const maxLabelLen = 256

// cleanLabel makes a server-provided string safe as a label value: valid
// UTF-8 (client_golang refuses anything else) and of bounded length. It is
// for values that identify nothing (names, versions, log values): two
// strings may clean alike. Ids use labelValue.
func cleanLabel(s string) string {
	return truncateLabel(validLabel(s), maxLabelLen)
}

// validLabel replaces invalid UTF-8 by U+FFFD.
func validLabel(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// truncateLabel cuts valid UTF-8 s to at most n bytes, on a rune boundary.
func truncateLabel(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// hashSuffixLen is the length of the suffix labelValue gives a value it had
// to change: "~" and 16 hex digits (64 bits of SHA-256).
const hashSuffixLen = 1 + 16

// labelValue is the label value of an id from CMS (a call id, a
// correlator). The model keys everything by the raw id; only the label is
// cleaned, and it must stay as distinct as the ids are, or two calls would
// make duplicate series and fail the scrape. A value that is valid UTF-8, at
// most maxLabelLen bytes and not shaped like a suffixed one (a GUID always
// is such a value) passes unchanged. Anything else is cleaned, cut to leave
// room, and suffixed with "~" and a hash of the raw bytes: raw values that
// clean alike get different labels, and no unchanged value can equal a
// suffixed one. Only a 64-bit hash collision could merge two labels.
func labelValue(raw string) string {
	if len(raw) <= maxLabelLen && utf8.ValidString(raw) && !hasHashSuffix(raw) {
		return raw
	}
	sum := sha256.Sum256([]byte(raw))
	return truncateLabel(validLabel(raw), maxLabelLen-hashSuffixLen) + "~" + hex.EncodeToString(sum[:(hashSuffixLen-1)/2])
}

// hasHashSuffix reports whether s ends like a value labelValue suffixed.
func hasHashSuffix(s string) bool {
	if len(s) < hashSuffixLen || s[len(s)-hashSuffixLen] != '~' {
		return false
	}
	for _, b := range []byte(s[len(s)-hashSuffixLen+1:]) {
		if (b < '0' || b > '9') && (b < 'a' || b > 'f') {
			return false
		}
	}
	return true
}

// logValue is an invalid value as a log line shows it: cleaned and cut
// short. It came from the network and, in a field of the wrong type, may
// be anything, a participant's name included; enough of it to recognise
// the mistake is enough.
func logValue(raw string) string {
	const keep = 40
	if len(raw) <= keep {
		return cleanLabel(raw)
	}
	return cleanLabel(raw[:keep]) + "…"
}
