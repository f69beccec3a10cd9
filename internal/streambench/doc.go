// Package streambench measures an events client against a strict stream
// server: the pieces of cmd/cmsbench, kept here so they are tested.
//
// Generate builds a seeded, deterministic stream shaped like the captures
// (testdata/cms-capture): a calls stream where participant counts dominate,
// a roster stream where activeSpeaker toggles do. Server serves it over TLS
// as CMS does (token, WebSocket, subscriptions answered with their
// snapshots) and checks every ack: the next outstanding id, in order, with
// status success, or the run fails. BareClient is the baseline a plain
// encoding/json client sets. Truth and Diff say what an exporter must show
// once the stream is applied.
package streambench
