package cmsws

import "time"

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventConnecting: a connection attempt starts (token request next).
	EventConnecting EventKind = iota + 1
	// EventConnectFailed: the attempt failed before the socket was up.
	// Reason is one of the ConnectFailure* values.
	EventConnectFailed
	// EventConnected: the socket is up and the first subscribeRequest was
	// sent. Session is the new session's number; every message that
	// follows, until EventDisconnected, belongs to it.
	EventConnected
	// EventDisconnected: session Session ended. Reason is one of the
	// Disconnect* values.
	EventDisconnected
	// EventMessage: a server message, decoded and already acknowledged.
	// Message is set; Subscription is the subscription its
	// subscriptionIndex refers to (nil for subscriptionUpdate, or when the
	// index is unknown, which is also reported as EventMessageError).
	EventMessage
	// EventSubscriptionState: the server reported a state for one of our
	// subscriptions. Subscription and State are set.
	EventSubscriptionState
	// EventMessageError: a frame or message could not be used. Reason is
	// one of the MessageError* values; Err has the detail. The connection
	// goes on.
	EventMessageError
	// EventRequestFailed: the server acked one of our messages with a
	// status other than success. Reason holds the status.
	EventRequestFailed
	// EventProbe: a liveness probe was acked in time. Latency is set.
	EventProbe
)

func (k EventKind) String() string {
	switch k {
	case EventConnecting:
		return "connecting"
	case EventConnectFailed:
		return "connect_failed"
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventMessage:
		return "message"
	case EventSubscriptionState:
		return "subscription_state"
	case EventMessageError:
		return "message_error"
	case EventRequestFailed:
		return "request_failed"
	case EventProbe:
		return "probe"
	}
	return "unknown"
}

// Connect failure reasons (bounded: used as metric label values).
const (
	ConnectFailureAuth      = "auth"      // token request refused (401/403): wrong credentials or rights
	ConnectFailureToken     = "token"     // token endpoint answered, but not with a usable token
	ConnectFailureNetwork   = "network"   // DNS, TCP, timeouts
	ConnectFailureTLS       = "tls"       // certificate or handshake failure
	ConnectFailureHandshake = "handshake" // WebSocket upgrade refused (e.g. connection limit, expired token)
)

// Disconnect reasons (bounded: used as metric label values).
const (
	DisconnectProbeTimeout = "probe_timeout" // the server did not ack a probe within the deadline
	DisconnectReadError    = "read_error"    // the socket failed or the peer vanished
	DisconnectServerClose  = "server_close"  // the server sent a close frame
	DisconnectWriteError   = "write_error"   // a write failed or timed out
	DisconnectShutdown     = "shutdown"      // we closed it: Close or context cancelled
	// DisconnectMessageTooLarge: a server message exceeded the read limit
	// (Config.ReadLimit); the next connection will likely meet it again.
	DisconnectMessageTooLarge = "message_too_large"
)

// Message error reasons (bounded: used as metric label values). The decode
// reasons ReasonMalformedJSON, ReasonUnknownEnvelope, ReasonMissingMessageID
// and ReasonBadUpdates are used as well.
const (
	MessageErrorUnknownType         = "unknown_type"         // a message type this client does not know
	MessageErrorUnknownSubscription = "unknown_subscription" // an update for an index we never used
	MessageErrorUnexpectedAck       = "unexpected_ack"       // an ack for a message we did not send
	MessageErrorSequence            = "sequence"             // server messageId did not rise by one
	MessageErrorPing                = "ping"                 // a WebSocket ping: CMS uses none, and a pong back is a frame it forbids
)

// Event is what a Client reports to its sink. Events of one Client are
// delivered one at a time, in order, from the client's own goroutine; a sink
// that blocks stops the client reading (and acking), which is the
// back-pressure CMS expects.
type Event struct {
	Kind EventKind
	Node string // the client's configured name
	// Connection is the client's connection number on that node
	// (Config.Connection).
	Connection int
	// Session numbers the client's sessions: each successful connect
	// starts a new one (1, 2, …), and every event of a session carries it.
	Session uint64
	Time    time.Time // when the client observed it (client's clock)
	Reason  string
	Err     error

	Message      *Message
	Subscription *Subscription
	State        string

	// Latency of an acked probe.
	Latency time.Duration
	// RetryIn is set on EventConnectFailed and EventDisconnected: how long
	// the client waits before the next attempt.
	RetryIn time.Duration
}

// Sink receives a client's events. It must not retain ev.Message beyond the
// call unless it owns it from then on (the client does not reuse it).
type Sink func(ev Event)
