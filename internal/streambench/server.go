package streambench

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cms-exporter/cms_exporter/internal/loopbackpki"

	"github.com/gorilla/websocket"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// Mode is how the server paces the stream.
type Mode string

// The modes.
const (
	// StopAndWait sends a message only once the previous one was acked:
	// what CMS does, and what makes the client's latency the limit.
	StopAndWait Mode = "stop-and-wait"
	// Pipelined writes the messages back to back; TCP flow control is the
	// only window. Acks are still checked, in order. It measures how much
	// a client can take at most.
	Pipelined Mode = "pipelined"
)

// ParseMode checks a mode's name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case StopAndWait, Pipelined:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want %s or %s", s, StopAndWait, Pipelined)
}

// snapshotChunk is how many adds one snapshot message carries.
const snapshotChunk = 20

// DefaultQuiet is how long the client must have sent no request before the
// measured stream starts: the exporter sends one more (unchanged) request
// after its subscriptions became active (cmsws's sync request), and the
// planner may push again; the stream starts once that has settled.
const DefaultQuiet = 300 * time.Millisecond

// Server is a strict events server on 127.0.0.1: TLS, token
// authentication, the WebSocket, subscriptions answered as CMS answers
// them, and every ack checked. It serves one armed Run per events
// connection.
type Server struct {
	user, pass string
	caPEM      []byte
	ln         net.Listener
	srv        *http.Server
	url        string

	mu     sync.Mutex
	tokens map[string]bool
	armed  *Run
	conns  map[*websocket.Conn]bool
}

// NewServer listens on a free port of 127.0.0.1 with a fresh certificate
// and serves until Close.
func NewServer(user, pass string) (*Server, error) {
	pki, err := loopbackpki.New("cmsbench CA")
	if err != nil {
		return nil, err
	}
	caPEM := pki.CAPEM
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.Server}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{user: user, pass: pass, caPEM: caPEM, ln: ln, url: "https://" + ln.Addr().String(),
		tokens: map[string]bool{}, conns: map[*websocket.Conn]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/authTokens", s.serveToken)
	mux.HandleFunc("GET /events/v1", s.serveEvents)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the node's API base, https://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// CAPEM is the certificate authority clients must trust.
func (s *Server) CAPEM() []byte { return s.caPEM }

// Close stops serving and closes every events connection.
func (s *Server) Close() {
	_ = s.srv.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.pass)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Header().Set(cmsws.TokenHeader, tok)
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
}

// Run is one measured run: the stream, how it is paced, and the
// subscriptions the client must hold before it starts.
type Run struct {
	stream *Stream
	mode   Mode
	quiet  time.Duration
	expect map[subKey]bool

	ready chan struct{} // closed when the client is set up
	start chan struct{} // closed by Start
	done  chan Result   // one Result
	once  sync.Once
}

// Result is what the server saw of a run.
type Result struct {
	// Start is when the first message of the stream was written; LastAck
	// when the ack of the last one arrived.
	Start, LastAck time.Time
	// Sent is every message the server sent on the connection up to the
	// last ack: snapshots, subscription answers and the stream.
	Sent int
	// Extra is the messages sent during the stream besides it (answers to
	// the client's requests, such as its liveness probe).
	Extra int
	// Held is the subscriptions the client held at the end.
	Held []cmsws.Subscription
	// Err says why the run failed: a wrong ack, a client that went away.
	Err error
}

// Arm makes the next events connection serve the stream in mode. The
// client must subscribe to calls and to the roster of every call of
// stream.Watched(), and then send no request for quiet (0:
// DefaultQuiet); then Ready is closed, and Start starts the stream.
func (s *Server) Arm(stream *Stream, mode Mode, quiet time.Duration) (*Run, error) {
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	expect := map[subKey]bool{{typ: cmsws.ResourceCalls}: true}
	for _, id := range stream.Watched() {
		expect[subKey{typ: cmsws.ResourceCallRoster, call: id}] = true
	}
	r := &Run{stream: stream, mode: mode, quiet: quiet, expect: expect,
		ready: make(chan struct{}), start: make(chan struct{}), done: make(chan Result, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.armed != nil {
		return nil, errors.New("a run is armed already")
	}
	s.armed = r
	return r, nil
}

// Ready is closed once the client holds the expected subscriptions, their
// snapshots were acked and the client has been quiet.
func (r *Run) Ready() <-chan struct{} { return r.ready }

// Start starts the measured stream.
func (r *Run) Start() { close(r.start) }

// Done yields the run's Result once: at the last ack, or at the failure.
func (r *Run) Done() <-chan Result { return r.done }

func (r *Run) finish(res Result) {
	r.once.Do(func() { r.done <- res })
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	tokOK := s.tokens[r.URL.Query().Get("authToken")]
	run := s.armed
	s.armed = nil
	s.mu.Unlock()
	if !tokOK {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	if run == nil {
		http.Error(w, "no run armed", http.StatusServiceUnavailable)
		return
	}
	up := websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		run.finish(Result{Err: fmt.Errorf("websocket upgrade: %w", err)})
		return
	}
	s.mu.Lock()
	s.conns[ws] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, ws)
		s.mu.Unlock()
		ws.Close()
	}()
	newSession(run, ws).serve()
}

type subKey struct {
	typ  cmsws.Resource
	call string
}

type phase int

const (
	phaseSetup phase = iota
	phaseReady
	phaseStream
	phaseDone
)

// session is one events connection serving one Run.
type session struct {
	run    *Run
	ws     *websocket.Conn
	closed chan struct{}

	kick chan struct{}

	mu          sync.Mutex
	phase       phase
	lastSent    int64
	lastAcked   int64
	ctrl        [][]byte // frames after the messageId, waiting their turn
	acks        []int64  // client requests to ack, before anything else
	held        map[int]subKey
	index       map[subKey]int
	lastRequest time.Time
	pos         int   // next message of the stream
	msgIdx      []int // subscription index per message of the stream
	extra       int
	start       time.Time
	failed      bool
}

func newSession(run *Run, ws *websocket.Conn) *session {
	return &session{run: run, ws: ws, closed: make(chan struct{}), kick: make(chan struct{}, 1),
		held: map[int]subKey{}, index: map[subKey]int{}, lastRequest: time.Now()}
}

func (s *session) serve() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.writeLoop() }()
	go func() { defer wg.Done(); s.watchSetup() }()
	s.readLoop()
	close(s.closed)
	wg.Wait()
}

// fail ends the run with err and closes the connection. Caller holds s.mu.
func (s *session) fail(err error) {
	if s.failed || s.phase == phaseDone {
		return
	}
	s.failed = true
	s.run.finish(Result{Err: err, Sent: int(s.lastSent)})
	s.ws.Close()
}

func (s *session) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// writeLoop is the connection's only writer. It acks the client's
// requests first, then sends every message the server owes, in messageId
// order: the answers and snapshots, then the stream. In stop-and-wait it
// waits for the ack of each message before the next. The reader never
// writes, so it keeps reading acks whatever the writer waits for: a
// reader blocked on a write could deadlock with a client blocked on
// writing its acks.
func (s *session) writeLoop() {
	buf := make([]byte, 0, 4096)
	msgs := s.run.stream.Msgs
	for {
		s.mu.Lock()
		if s.failed {
			s.mu.Unlock()
			return
		}
		if len(s.acks) > 0 {
			id := s.acks[0]
			s.acks = s.acks[1:]
			s.mu.Unlock()
			if err := s.write(cmsws.EncodeAck(id, cmsws.AckSuccess)); err != nil {
				s.mu.Lock()
				s.fail(fmt.Errorf("write ack of request %d: %w", id, err))
				s.mu.Unlock()
				return
			}
			continue
		}
		var rest []byte
		var m *Msg
		var idx int
		if s.run.mode == Pipelined || s.lastAcked == s.lastSent {
			switch {
			case len(s.ctrl) > 0:
				rest = s.ctrl[0]
				s.ctrl = s.ctrl[1:]
				if s.phase == phaseStream {
					s.extra++
				}
			case s.phase == phaseStream && s.pos < len(msgs):
				m, idx = &msgs[s.pos], s.msgIdx[s.pos]
				if s.pos == 0 {
					s.start = time.Now()
				}
				s.pos++
			}
		}
		if rest == nil && m == nil {
			s.mu.Unlock()
			select {
			case <-s.kick:
				continue
			case <-s.closed:
				return
			}
		}
		s.lastSent++
		id := s.lastSent
		s.mu.Unlock()

		buf = append(buf[:0], `{"type":"message","message":{"messageId":`...)
		buf = strconv.AppendInt(buf, id, 10)
		if m != nil {
			buf = append(buf, `,"type":"`...)
			buf = append(buf, m.Type...)
			buf = append(buf, `","subscriptionIndex":`...)
			buf = strconv.AppendInt(buf, int64(idx), 10)
			buf = append(buf, ',')
			buf = append(buf, m.Body...)
		} else {
			buf = append(buf, rest...)
		}
		if err := s.write(buf); err != nil {
			s.mu.Lock()
			s.fail(fmt.Errorf("write message %d: %w", id, err))
			s.mu.Unlock()
			return
		}
	}
}

func (s *session) write(b []byte) error {
	if err := s.ws.SetWriteDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if err := s.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// clientFrame is what a client may send: acks of our messages, and its
// subscribeRequests.
type clientFrame struct {
	Type    string `json:"type"`
	Message *struct {
		MessageID     *int64               `json:"messageId"`
		Type          string               `json:"type"`
		Subscriptions []cmsws.Subscription `json:"subscriptions"`
	} `json:"message"`
	MessageAck *struct {
		MessageID *int64 `json:"messageId"`
		Status    string `json:"status"`
	} `json:"messageAck"`
}

// readLoop checks every frame of the client. Strict: an ack must name the
// oldest message not yet acked, with status success; anything else ends
// the run with an error.
func (s *session) readLoop() {
	for {
		mt, data, err := s.ws.ReadMessage()
		s.mu.Lock()
		if err != nil {
			s.fail(fmt.Errorf("client connection ended before the last ack (%d of %d sent messages acked): %w", s.lastAcked, s.lastSent, err))
			s.mu.Unlock()
			return
		}
		if err := s.handle(mt, data); err != nil {
			s.fail(fmt.Errorf("%w; frame: %.200s", err, data))
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// handle checks one client frame. Caller holds s.mu.
func (s *session) handle(mt int, data []byte) error {
	if mt != websocket.TextMessage {
		return fmt.Errorf("frame type %d, want text", mt)
	}
	var f clientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("undecodable frame: %w", err)
	}
	switch {
	case f.Type == cmsws.EnvelopeMessageAck && f.MessageAck != nil && f.MessageAck.MessageID != nil:
		return s.ack(*f.MessageAck.MessageID, f.MessageAck.Status)
	case f.Type == cmsws.EnvelopeMessage && f.Message != nil && f.Message.MessageID != nil &&
		f.Message.Type == cmsws.TypeSubscribeRequest:
		return s.subscribe(*f.Message.MessageID, f.Message.Subscriptions)
	}
	return errors.New("neither a messageAck nor a subscribeRequest")
}

func (s *session) ack(id int64, status string) error {
	switch {
	case s.lastAcked == s.lastSent:
		return fmt.Errorf("ack of messageId %d, but every message sent (up to %d) was acked", id, s.lastSent)
	case id != s.lastAcked+1:
		return fmt.Errorf("ack of messageId %d, want %d (acks must come in order, one per message)", id, s.lastAcked+1)
	case status != cmsws.AckSuccess:
		return fmt.Errorf("ack of messageId %d with status %q, want %q", id, status, cmsws.AckSuccess)
	}
	s.lastAcked = id
	if s.phase == phaseStream && s.pos == len(s.run.stream.Msgs) && len(s.ctrl) == 0 && s.lastAcked == s.lastSent {
		s.phase = phaseDone
		held := make([]cmsws.Subscription, 0, len(s.held))
		for idx, k := range s.held {
			held = append(held, cmsws.Subscription{Index: idx, Type: k.typ, Call: k.call})
		}
		slices.SortFunc(held, func(a, b cmsws.Subscription) int { return a.Index - b.Index })
		s.run.finish(Result{Start: s.start, LastAck: time.Now(), Sent: int(s.lastSent), Extra: s.extra, Held: held})
	}
	s.signal()
	return nil
}

// subscribe answers a subscribeRequest as CMS does: an ack at once, then
// one subscriptionUpdate listing every subscription of the (complete,
// replacing) set as active, then the snapshot of each new one. The set may
// change only while the client sets up.
func (s *session) subscribe(id int64, subs []cmsws.Subscription) error {
	s.acks = append(s.acks, id)
	s.lastRequest = time.Now()
	next := make(map[int]subKey, len(subs))
	for _, sub := range subs {
		next[sub.Index] = subKey{typ: sub.Type, call: sub.Call}
	}
	var fresh []int
	for idx, k := range next {
		if old, ok := s.held[idx]; !ok || old != k {
			fresh = append(fresh, idx)
		}
	}
	changed := len(fresh) > 0 || len(next) != len(s.held)
	if changed && s.phase != phaseSetup && s.phase != phaseDone {
		return fmt.Errorf("the client changed its subscriptions after it was set up (%d held, %d requested, %d new): the stream cannot go on", len(s.held), len(next), len(fresh))
	}
	s.held = next
	s.index = make(map[subKey]int, len(next))
	for idx, k := range next {
		s.index[k] = idx
	}
	st := s.run.stream.Initial
	indexes := slices.Sorted(func(yield func(int) bool) {
		for idx := range next {
			if !yield(idx) {
				return
			}
		}
	})
	b := []byte(`,"type":"subscriptionUpdate","subscriptions":[`)
	for i, idx := range indexes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendIntField(b, "index", idx)
		b = appendStringField(b, "state", s.state(next[idx]))
		b = append(b, '}')
	}
	s.ctrl = append(s.ctrl, append(b, "]}}"...))
	slices.Sort(fresh)
	for _, idx := range fresh {
		k := next[idx]
		if s.state(k) != cmsws.StateActive {
			continue
		}
		switch k.typ {
		case cmsws.ResourceCalls:
			for part := range slices.Chunk(st.CallIDs(), snapshotChunk) {
				b := snapshotHead(typeCallList, idx)
				for _, id := range part {
					b = appendCallAdd(b, st.Calls[id])
				}
				s.ctrl = append(s.ctrl, append(b, "]}}"...))
			}
		case cmsws.ResourceCallRoster:
			for part := range slices.Chunk(st.Rosters[k.call], snapshotChunk) {
				b := snapshotHead(typeRoster, idx)
				for _, p := range part {
					b = appendParticipantAdd(b, p)
				}
				s.ctrl = append(s.ctrl, append(b, "]}}"...))
			}
		}
	}
	s.signal()
	return nil
}

func snapshotHead(typ string, idx int) []byte {
	b := append([]byte(`,"type":"`), typ...)
	b = append(b, `","subscriptionIndex":`...)
	b = strconv.AppendInt(b, int64(idx), 10)
	return append(b, `,"updates":[`...)
}

// state is what CMS says of a subscription: calls is always active; a
// roster only for a call the node hosts. Caller holds s.mu.
func (s *session) state(k subKey) string {
	switch k.typ {
	case cmsws.ResourceCalls:
		return cmsws.StateActive
	case cmsws.ResourceCallRoster:
		if s.run.stream.Initial.Calls[k.call] != nil {
			return cmsws.StateActive
		}
	}
	return cmsws.StateDeactivated
}

// watchSetup waits until the client holds exactly the expected
// subscriptions, every message so far is acked and the client has been
// quiet; then it resolves the stream's subscription indexes, says Ready,
// and waits for Start.
func (s *session) watchSetup() {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.setUp() {
			s.phase = phaseReady
			s.resolveIndexes()
			s.mu.Unlock()
			break
		}
		s.mu.Unlock()
	}
	close(s.run.ready)
	select {
	case <-s.closed:
		return
	case <-s.run.start:
	}
	s.mu.Lock()
	if s.phase == phaseReady {
		s.phase = phaseStream
	}
	s.mu.Unlock()
	s.signal()
}

// setUp reports whether the stream may start. Caller holds s.mu.
func (s *session) setUp() bool {
	if s.failed || len(s.ctrl) > 0 || len(s.acks) > 0 || s.lastSent == 0 || s.lastAcked != s.lastSent ||
		time.Since(s.lastRequest) < s.run.quiet || len(s.held) != len(s.run.expect) {
		return false
	}
	for _, k := range s.held {
		if !s.run.expect[k] {
			return false
		}
	}
	return true
}

// resolveIndexes finds, for every message of the stream, the index of the
// subscription it is sent on. Caller holds s.mu.
func (s *session) resolveIndexes() {
	msgs := s.run.stream.Msgs
	s.msgIdx = make([]int, len(msgs))
	calls := s.index[subKey{typ: cmsws.ResourceCalls}]
	for i := range msgs {
		if msgs[i].Type == typeRoster {
			s.msgIdx[i] = s.index[subKey{typ: cmsws.ResourceCallRoster, call: msgs[i].Target}]
		} else {
			s.msgIdx[i] = calls
		}
	}
}
