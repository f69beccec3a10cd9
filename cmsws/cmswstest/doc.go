// Package cmswstest runs a fake Cisco Meeting Server cluster in-process, in
// the spirit of net/http/httptest. It serves the real wire protocol (token
// endpoint, hand-written RFC 6455 server side, subscribeRequest /
// subscriptionUpdate / callListUpdate / rosterUpdate / callInfoUpdate with
// acknowledgements) and models the semantics of a Meeting Server cluster
// (a meeting has one call id per hosting node, all sharing its
// callCorrelator; participants is the cluster-wide count, repeated on every
// instance; distributedInstances counts the other hosting nodes; a roster
// subscription on any hosting node lists every participant, and only the
// participant's own node says why it left), including the server's
// rudeness: it refuses the sixth connection and the 101st subscription,
// closes the TCP connection on a fragmented, ping, pong or binary frame,
// stalls without acks and announces every new call as locked before
// unlocking it. Faults a client must survive are at hand: dropped and
// stalled connections, restarts, expired tokens, raw frames, snapshots held
// back (DelaySnapshots), busy nodes (DelayRequests), deactivated calls
// subscriptions and nodes cut off.
//
// Each node also answers the REST API's system resources (status, load,
// cluster limits, alarms, licensing, multipartyLicensing; HTTP Basic on
// every request) from the same model: its call legs are the participants
// it hosts plus one distribution leg per other node hosting each of its
// meetings, so a client can check its events-built books against the
// node's own. RESTTruth is their ground truth; RaiseAlarm, SetLicense,
// SetLimits, ExtraCallLegs, SetRESTFault and friends shape them.
//
// Tests and the demo drive it with a scenario API (StartMeeting,
// AddParticipant, RestartNode, ...) and compare what a client built from the
// stream with Truth, which is exactly what the fake has told, or will tell
// once its queues drain, its subscribers, and its transition counters with
// Transitions, the changes the fake told live. Traffic generates seeded
// random but realistic activity.
//
// Every state change is applied and fanned out to the connections' queues
// under one cluster lock, so the order of messages on every connection
// agrees with the order of changes, and Truth never runs ahead of a queue.
package cmswstest
