package cmsws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"
)

// session is one life of an events connection, from a successful connect
// to its end; a client's sessions are numbered 1, 2, … (Event.Session).
// The reader goroutine owns the inbound stream (ack, then decode and
// dispatch); serve's loop owns requests and the probe. Writes from both are
// serialised by writeMu, because gorilla allows one writer at a time.
type session struct {
	c      *Client
	ws     *websocket.Conn
	number uint64 // Event.Session
	// acks is ws's connection when the client dialled it (nil in tests
	// that hand over another): it lets the acks of a burst share a write.
	acks *ackConn

	writeMu  sync.Mutex
	closeErr error // why we closed it ourselves; read after the reader is done

	// syncWanted (capacity 1) asks the serve loop for a sync request: a
	// subscription became active, and the next request after that is what
	// marks the end of its snapshot (see requestSync).
	syncWanted chan struct{}

	mu          sync.Mutex
	clientMsgID int64
	outstanding map[int64]request // our messages not yet acked
	active      map[Key]int       // the set last sent: target → index
	byIndex     map[int]indexEntry
	// lastAckedReq is the highest request id acked; used to retire old
	// indexes safely.
	lastAckedReq int64
	// syncAfter is the highest request id sent when a subscription was
	// last seen becoming active: a request with a higher id is the sync
	// request. syncPending says one is owed.
	syncAfter   int64
	syncPending bool
	// renewCalls: the server deactivated a current calls subscription; the
	// next request re-subscribes it under a fresh index (see renewDeactivatedCalls).
	renewCalls bool
	lastRenew  time.Time
}

// requestKind says why a request was sent; only probes measure latency.
type requestKind uint8

const (
	requestChange requestKind = iota // the desired set changed (or the first request)
	requestProbe                     // liveness probe: the unchanged set again
	requestSync                      // end-of-snapshot marker after an activation
)

type request struct {
	sentAt time.Time
	kind   requestKind
}

type indexEntry struct {
	sub       Subscription
	retiredBy int64 // messageId of the request that dropped it; 0 = live
	// active: the server reported it active and not deactivated since.
	active bool
	// snapshot: a calls subscription whose activation was seen and that
	// was not listed again since: its snapshot may still be arriving.
	snapshot bool
	// damaged: its snapshot lost entries; it is due for renewal.
	damaged bool
}

// errProbeTimeout is the close cause when a request was not acked in time.
var errProbeTimeout = errors.New("request not acknowledged within the probe timeout")

func (c *Client) serve(ctx context.Context, ws *websocket.Conn, number uint64) (string, error) {
	s := &session{
		c: c, ws: ws, number: number,
		outstanding: make(map[int64]request),
		active:      make(map[Key]int),
		byIndex:     make(map[int]indexEntry),
		syncWanted:  make(chan struct{}, 1),
	}
	s.acks, _ = ws.NetConn().(*ackConn)
	// Drain a stale "changed" signal: the first request sends the current set anyway.
	select {
	case <-c.changed:
	default:
	}
	if err := s.sendSet(c.desiredSet(), requestChange); err != nil {
		ws.Close()
		return DisconnectWriteError, err
	}
	level.Info(c.logger).Log("msg", "events connection established", "session", number, "url", c.base.String())
	c.emit(Event{Kind: EventConnected, Session: number})

	// gorilla answers a ping with a pong by default; CMS closes the
	// connection on either control frame, so a ping is only counted.
	ws.SetPingHandler(func(string) error {
		s.msgError(MessageErrorPing, errors.New("the server sent a WebSocket ping, which CMS never does; no pong sent"), nil)
		return nil
	})
	readerDone := make(chan readResult, 1)
	go func() { readerDone <- s.readLoop() }()

	probe := time.NewTicker(c.cfg.ProbeInterval)
	defer probe.Stop()
	check := time.NewTicker(checkEvery(c.cfg.ProbeTimeout))
	defer check.Stop()

	fail := func(reason string, err error) (string, error) {
		s.closeWith(err)
		<-readerDone
		return reason, err
	}
	for {
		var kind requestKind
		select {
		case <-ctx.Done():
			s.closeGracefully()
			<-readerDone
			ws.Close()
			return DisconnectShutdown, nil
		case r := <-readerDone:
			ws.Close()
			return r.reason, r.err
		case <-c.changed:
			kind = requestChange
		case <-s.syncWanted:
			kind = requestSync
		case <-probe.C:
			kind = requestProbe
		case <-check.C:
			if age := s.oldestOutstanding(); age > c.cfg.ProbeTimeout {
				err := fmt.Errorf("%w (%s > %s)", errProbeTimeout, age.Round(time.Millisecond), c.cfg.ProbeTimeout)
				return fail(DisconnectProbeTimeout, err)
			}
			continue
		}
		if err := s.request(kind); err != nil {
			return fail(DisconnectWriteError, err)
		}
	}
}

// request sends the desired set as a request of kind, unless one already
// sent serves: a change the last (sync) request carried already, a sync
// owed to no activation, a probe while a request is unacked (which is a
// probe too). A calls subscription due for renewal needs a request anyway.
func (s *session) request(kind requestKind) error {
	want := s.c.desiredSet()
	switch kind {
	case requestChange:
		if s.holds(want) {
			return nil
		}
	case requestSync:
		if !s.syncOwed() && !s.renewDue() {
			return nil
		}
	case requestProbe:
		if s.pendingRequests() > 0 && !s.renewDue() {
			return nil
		}
	}
	return s.sendSet(want, kind)
}

// checkEvery picks how often to look for overdue acks: often enough that
// detection takes at most ~1.25× the timeout, rarely enough to cost nothing.
func checkEvery(timeout time.Duration) time.Duration {
	d := timeout / 4
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	if d > time.Second {
		d = time.Second
	}
	return d
}

func (s *session) pendingRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.outstanding)
}

// holds reports whether want is exactly the set last sent, elements
// included, with no calls renewal waiting.
func (s *session) holds(want []Subscription) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.renewCalls || len(want) != len(s.active) {
		return false
	}
	for _, w := range want {
		idx, ok := s.active[w.Key()]
		if !ok || !slices.Equal(s.byIndex[idx].sub.Elements, w.Elements) {
			return false
		}
	}
	return true
}

// syncOwed reports whether no request was sent since the last activation.
func (s *session) syncOwed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncPending && s.clientMsgID <= s.syncAfter
}

// renewDue reports whether a deactivated calls subscription waits for its
// renewal and the pacing allows it now.
func (s *session) renewDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renewCalls && s.c.cfg.Now().Sub(s.lastRenew) >= s.c.cfg.ProbeInterval
}

func (s *session) oldestOutstanding() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.c.cfg.Now()
	var oldest time.Duration
	for _, r := range s.outstanding {
		if age := now.Sub(r.sentAt); age > oldest {
			oldest = age
		}
	}
	return oldest
}

// sendSet sends the complete subscription set. Targets already held keep
// their index (CMS keeps them, no replay); new targets get a fresh index
// that this client never used before; dropped targets are retired, but kept
// resolvable until CMS has confirmed the new set, because updates for them
// may still be in flight.
func (s *session) sendSet(want []Subscription, kind requestKind) error {
	s.mu.Lock()
	keep := make(map[Key]bool, len(want))
	subs := make([]Subscription, 0, len(want))
	s.clientMsgID++
	id := s.clientMsgID
	s.renewDeactivatedCalls(id)
	for _, w := range want {
		k := w.Key()
		keep[k] = true
		idx, ok := s.active[k]
		if !ok {
			idx = s.c.allocIndex()
			s.active[k] = idx
			s.byIndex[idx] = indexEntry{sub: withIndex(w, idx)}
		} else if e := s.byIndex[idx]; !slices.Equal(e.sub.Elements, w.Elements) {
			// Changed elements: a new subscription under a new index.
			e.retiredBy = id
			s.byIndex[idx] = e
			idx = s.c.allocIndex()
			s.active[k] = idx
			s.byIndex[idx] = indexEntry{sub: withIndex(w, idx)}
		}
		subs = append(subs, s.byIndex[idx].sub)
	}
	for k, idx := range s.active {
		if !keep[k] {
			e := s.byIndex[idx]
			e.retiredBy = id
			s.byIndex[idx] = e
			delete(s.active, k)
		}
	}
	s.outstanding[id] = request{sentAt: s.c.cfg.Now(), kind: kind}
	s.syncPending = s.syncPending && id <= s.syncAfter
	s.mu.Unlock()

	data, err := EncodeMessage(&Message{MessageID: id, Type: TypeSubscribeRequest, Subscriptions: subs})
	if err != nil {
		return err
	}
	if kind == requestSync {
		level.Debug(s.c.logger).Log("msg", "sync request sent: its subscriptionUpdate marks the end of the snapshots before it", "session", s.number, "message_id", id)
	}
	return s.write(data)
}

// renewDeactivatedCalls gives a calls subscription the server deactivated,
// or whose snapshot lost entries (see noteDamage), a fresh index in the
// request being built. Whether CMS ever re-activates a
// deactivated calls subscription, and whether it then replays the calls, is
// not documented; under a fresh index it is a new subscription, which CMS
// answers with a complete snapshot, so the model learns the truth either
// way. At most once per ProbeInterval, so a server that keeps deactivating
// it is not hammered; the probe retries. Caller holds s.mu.
func (s *session) renewDeactivatedCalls(id int64) {
	now := s.c.cfg.Now()
	if !s.renewCalls || now.Sub(s.lastRenew) < s.c.cfg.ProbeInterval {
		return
	}
	s.renewCalls = false
	s.lastRenew = now
	for k, idx := range s.active {
		if e := s.byIndex[idx]; e.sub.Type == ResourceCalls && (!e.active || e.damaged) {
			// Forgetting the key makes the loop below allocate a new index
			// and retire the old one.
			delete(s.active, k)
			e.retiredBy = id
			s.byIndex[idx] = e
			if e.damaged {
				level.Info(s.c.logger).Log("msg", "calls snapshot lost entries; subscribing again under a new index for a complete one", "session", s.number, "old_index", idx)
				continue
			}
			level.Info(s.c.logger).Log("msg", "calls subscription deactivated by the server; subscribing again under a new index", "session", s.number, "old_index", idx)
		}
	}
}

func withIndex(s Subscription, idx int) Subscription {
	s.Index = idx
	return s
}

func (s *session) write(data []byte) error { return s.writeAck(data, false) }

// writeAck writes data, an ack that may be held back with the next one
// if hold (see ackConn).
func (s *session) writeAck(data []byte, hold bool) error {
	if len(data) > MaxMessageSize {
		// Sending it would fragment it, and CMS drops fragmented frames.
		return fmt.Errorf("message of %d bytes exceeds the single-frame limit of %d", len(data), MaxMessageSize)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// Wall clock, not cfg.Now: socket deadlines are compared with the
	// kernel's clock, and an injected test clock would expire every write.
	if err := s.ws.SetWriteDeadline(time.Now().Add(s.c.cfg.WriteTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if hold && s.acks != nil {
		s.acks.holdNextAck()
	}
	if err := s.ws.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (s *session) closeWith(err error) {
	s.mu.Lock()
	s.closeErr = err
	s.mu.Unlock()
	s.ws.Close()
}

// closeGracefully sends a close frame (allowed by CMS: only ping/pong are
// not) and gives the peer at most a second to answer it; the caller waits
// for the reader and then closes the socket. The frame must be written
// before the socket is closed, or it never leaves and the server sees a
// vanished peer instead of a clean goodbye. The reader ends on the peer's
// close reply, on the read deadline, or at once when the write failed and
// the socket is closed here.
func (s *session) closeGracefully() {
	deadline := time.Now().Add(time.Second)
	// Under writeMu like every write, so it cannot take the place of an
	// ack that was about to be held (ackConn).
	s.writeMu.Lock()
	err := s.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "shutdown"), deadline)
	s.writeMu.Unlock()
	if err == nil {
		err = s.ws.SetReadDeadline(deadline)
	}
	if err != nil {
		s.closeWith(nil)
	}
}

type readResult struct {
	reason string
	err    error
}

func (s *session) readLoop() readResult {
	var (
		lastServerID int64
		buf          frameBuffer
		ackBuf       = make([]byte, 0, 96)
	)
	for {
		mt, data, err := buf.read(s.ws)
		if err != nil {
			return s.readFailure(err)
		}
		more := false
		if s.acks != nil {
			more = s.acks.messageRead()
		}
		if mt != websocket.TextMessage {
			s.msgError(ReasonUnknownEnvelope, fmt.Errorf("unexpected frame type %d", mt), nil)
			continue
		}
		// Ack first, in order, before the frame is decoded: CMS sends
		// nothing more until this ack arrives, so the decode and the
		// model update below overlap its round trip instead of adding to
		// it. The scan reads only the envelope's message.messageId and
		// gives the id the decoder would (FuzzDecodeFrame checks that);
		// it also reads the id of a frame the decoder refuses, so a bad
		// frame cannot stall the node. Never an ack's id.
		id, ack := scanMessageID(data)
		if ack {
			ackBuf = AppendAck(ackBuf[:0], id, AckSuccess)
			// With another message already read in behind this
			// one, its ack may leave with that one's (ackConn).
			if err := s.writeAck(ackBuf, more); err != nil {
				return readResult{DisconnectWriteError, err}
			}
			if lastServerID != 0 && id != lastServerID+1 {
				s.msgError(MessageErrorSequence,
					fmt.Errorf("server messageId %d after %d", id, lastServerID), data)
			}
			lastServerID = id
		}
		s.handleFrame(data, id, ack)
	}
}

// handleFrame decodes a server frame, already acked if ack (under id),
// and hands what it holds to the sink, in the order frames arrived.
func (s *session) handleFrame(data []byte, id int64, ack bool) {
	frame, derr := DecodeFrame(data)
	if derr != nil {
		reason := ReasonMalformedJSON
		var de *DecodeError
		if errors.As(derr, &de) {
			reason = de.Reason
		}
		if frame != nil && frame.Message != nil && (reason == ReasonBadEntry || reason == ReasonBadUpdates) {
			s.noteDamage(frame.Message)
		}
		if reason != ReasonBadEntry || frame == nil || frame.Message == nil {
			// Nothing usable. A list that is not a list
			// (bad_updates) is not delivered as an empty one either:
			// the model would take it for a (part of a) calls
			// snapshot, and an empty replay is not the same as none
			// to it (see collector's endSnapshot); noteDamage has the
			// snapshot taken again if it was one.
			s.msgError(reason, derr, data)
			return
		}
		// Some entries were bad: each is counted, the good ones
		// are delivered.
		for _, e := range de.Entries {
			s.msgError(reason, e, data)
		}
	}
	switch {
	case frame.Ack != nil:
		s.handleAck(frame.Ack, data)
	case frame.Message != nil:
		if !ack || frame.Message.MessageID != id {
			// The scan and the decoder disagree, which the fuzz
			// target says cannot happen: count it, and keep the
			// model away from a message CMS may send again.
			s.msgError(ReasonMissingMessageID, fmt.Errorf("decoded messageId %d, but the id scan read %d (acked: %v)",
				frame.Message.MessageID, id, ack), data)
			return
		}
		s.dispatch(frame.Message, data)
	}
}

// frameBuffer reads WebSocket messages into one buffer reused from message
// to message, where gorilla's ReadMessage grows a new one each time: the
// read path allocates nothing for a frame of ordinary size. The bytes
// returned are valid until the next read; nothing decoded from them may
// alias them (the decoders copy every string). A buffer grown past
// keepFrameBuffer by a rare huge snapshot is dropped after use.
type frameBuffer struct{ b bytes.Buffer }

const keepFrameBuffer = 1 << 20

func (f *frameBuffer) read(ws *websocket.Conn) (int, []byte, error) {
	if f.b.Cap() > keepFrameBuffer {
		f.b = bytes.Buffer{}
	}
	f.b.Reset()
	mt, r, err := ws.NextReader()
	if err != nil {
		return mt, nil, err
	}
	if _, err := f.b.ReadFrom(r); err != nil {
		return mt, nil, err
	}
	return mt, f.b.Bytes(), nil
}

func (s *session) readFailure(err error) readResult {
	s.mu.Lock()
	closeErr := s.closeErr
	s.mu.Unlock()
	if closeErr != nil {
		return readResult{DisconnectProbeTimeout, closeErr}
	}
	// gorilla reports a TCP connection that just vanished as close code
	// 1006 (abnormal closure); only a real close frame is a server close.
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		return readResult{DisconnectServerClose, fmt.Errorf("server closed the connection: %w", err)}
	}
	if errors.Is(err, errHeldAckWrite) {
		return readResult{DisconnectWriteError, err}
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		// Reconnecting meets the same message again (a snapshot is
		// replayed), so this is an operator's problem, said once per
		// occurrence at error level with what to do about it.
		level.Error(s.c.logger).Log("msg", "server message larger than the read limit: connection closed, will reconnect; "+
			"a roster or calls snapshot this large is not expected from CMS, please report it (with the CMS version) "+
			"or raise the client's read limit", "session", s.number, "limit_bytes", s.c.cfg.ReadLimit)
		return readResult{DisconnectMessageTooLarge, fmt.Errorf("read: server message over %d bytes: %w", s.c.cfg.ReadLimit, err)}
	}
	return readResult{DisconnectReadError, fmt.Errorf("read: %w", err)}
}

func (s *session) msgError(reason string, err error, frame []byte) {
	attrs := []any{"msg", "unusable message from server", "session", s.number, "reason", reason, "err", err}
	if frame != nil {
		attrs = append(attrs, "frame", frameForLog(frame, s.c.cfg.LogFullFrames))
	}
	s.c.cfg.Limiter.Log(level.Warn(s.c.logger), reason, attrs...)
	s.c.emit(Event{Kind: EventMessageError, Session: s.number, Reason: reason, Err: err})
}

func (s *session) handleAck(a *Ack, frame []byte) {
	s.mu.Lock()
	req, ok := s.outstanding[a.MessageID]
	if ok {
		delete(s.outstanding, a.MessageID)
		if a.MessageID > s.lastAckedReq {
			s.lastAckedReq = a.MessageID
		}
	}
	s.mu.Unlock()
	if !ok {
		s.msgError(MessageErrorUnexpectedAck, fmt.Errorf("ack for messageId %d we did not send or already saw", a.MessageID), frame)
		return
	}
	if a.Status != AckSuccess {
		s.c.cfg.Limiter.Log(level.Warn(s.c.logger), "request_refused", "msg", "server refused our request", "session", s.number, "message_id", a.MessageID,
			"status", truncate(a.Status, 60), "frame", frameForLog(frame, s.c.cfg.LogFullFrames))
		s.c.emit(Event{Kind: EventRequestFailed, Session: s.number, Reason: a.Status,
			Err: fmt.Errorf("request %d acked with status %q", a.MessageID, truncate(a.Status, 60))})
		return
	}
	if req.kind == requestProbe {
		s.c.emit(Event{Kind: EventProbe, Session: s.number, Latency: s.c.cfg.Now().Sub(req.sentAt)})
	}
}

func (s *session) lookup(idx int) (Subscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byIndex[idx]
	return e.sub, ok
}

func (s *session) dispatch(m *Message, frame []byte) {
	switch m.Type {
	case TypeSubscriptionUpdate:
		s.c.emit(Event{Kind: EventMessage, Session: s.number, Message: m})
		s.applyStatuses(m, frame)
	case TypeCallListUpdate, TypeRosterUpdate, TypeCallInfoUpdate:
		if m.SubscriptionIndex == nil {
			s.msgError(MessageErrorUnknownSubscription, fmt.Errorf("%s without subscriptionIndex", m.Type), frame)
			return
		}
		sub, ok := s.lookup(*m.SubscriptionIndex)
		if !ok {
			s.msgError(MessageErrorUnknownSubscription, fmt.Errorf("%s for index %d we never subscribed", m.Type, *m.SubscriptionIndex), frame)
			return
		}
		s.c.emit(Event{Kind: EventMessage, Session: s.number, Message: m, Subscription: &sub})
	default:
		// Counted by type (as "other") by the consumer, and flagged here:
		// a newer CMS may add kinds, which must not break the stream.
		s.c.emit(Event{Kind: EventMessage, Session: s.number, Message: m})
		s.msgError(MessageErrorUnknownType, fmt.Errorf("unknown message type %q", truncate(m.Type, 40)), frame)
	}
}

func (s *session) applyStatuses(m *Message, frame []byte) {
	type resolved struct {
		sub   Subscription
		state string
	}
	var out []resolved
	activated := false
	s.mu.Lock()
	listed := make(map[int]bool, len(m.Statuses))
	for _, st := range m.Statuses {
		listed[st.Index] = true
		e, ok := s.byIndex[st.Index]
		if !ok {
			out = append(out, resolved{sub: Subscription{Index: st.Index}, state: st.State})
			continue
		}
		out = append(out, resolved{e.sub, st.State})
		switch st.State {
		case StateActive:
			if !e.active && e.retiredBy == 0 {
				activated = true
			}
			// Listed again while active: CMS queued this behind the
			// snapshot, which is complete (see requestSync).
			e.snapshot = !e.active && e.sub.Type == ResourceCalls
			e.active = true
		case StateDeactivated:
			e.active = false
			if e.sub.Type == ResourceCalls && e.retiredBy == 0 {
				s.renewCalls = true
			}
		}
		s.byIndex[st.Index] = e
	}
	if activated {
		s.syncAfter = s.clientMsgID
		s.syncPending = true
	}
	renew := s.renewCalls
	// CMS lists the whole set after it processed a request: retired
	// indexes absent from such a listing can no longer receive updates.
	for idx, e := range s.byIndex {
		if e.retiredBy != 0 && e.retiredBy <= s.lastAckedReq && !listed[idx] {
			delete(s.byIndex, idx)
		}
	}
	s.mu.Unlock()
	for _, r := range out {
		if r.sub.Type == "" {
			s.msgError(MessageErrorUnknownSubscription, fmt.Errorf("subscriptionUpdate for index %d we never used", r.sub.Index), frame)
			continue
		}
		sub := r.sub
		s.c.emit(Event{Kind: EventSubscriptionState, Session: s.number, Subscription: &sub, State: r.state})
	}
	if activated || renew {
		s.requestSync()
	}
}

// noteDamage marks a calls subscription whose snapshot lost entries (a bad
// entry, or a list that is not one) for renewal. The model sweeps the calls
// a snapshot did not list, and the lost entries cannot say which calls they
// were: only a complete snapshot can. Under a fresh index, CMS sends one;
// the calls swept meanwhile come back with it, silently (the model
// remembers what it dropped). Renewals are paced like those of a
// deactivated calls subscription, so a server that keeps sending damaged
// snapshots is not hammered. Damage outside a snapshot costs only the
// entries lost; the next update of those calls repairs them.
func (s *session) noteDamage(m *Message) {
	if m.Type != TypeCallListUpdate || m.SubscriptionIndex == nil {
		return
	}
	s.mu.Lock()
	e, ok := s.byIndex[*m.SubscriptionIndex]
	due := ok && e.snapshot && e.retiredBy == 0 && !e.damaged
	if due {
		e.damaged = true
		s.byIndex[*m.SubscriptionIndex] = e
		s.renewCalls = true
	}
	s.mu.Unlock()
	if due {
		s.requestSync()
	}
}

// requestSync asks the serve loop for one more request. CMS marks no end of
// a snapshot, but it answers every request with subscriptionUpdates listing
// the whole set, after whatever it queued before: the snapshot of a
// subscription that became active earlier. The first listing of a
// subscription after its activation therefore marks the end of its
// snapshot, however late the snapshot came; the model relies on that (see
// collector). Any request sent after the activation does; if none is sent
// anyway, the sync request (the unchanged set) is. It also carries a
// pending calls renewal.
func (s *session) requestSync() {
	select {
	case s.syncWanted <- struct{}{}:
	default:
	}
}
