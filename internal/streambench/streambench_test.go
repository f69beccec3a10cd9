package streambench

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func generate(t *testing.T, p Params) *Stream {
	t.Helper()
	s, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func params(kind string, seed uint64) Params {
	return Params{Kind: kind, Seed: seed, Calls: 12, Participants: 5, Messages: 3000}
}

func TestGenerateDeterministic(t *testing.T) {
	for _, kind := range []string{StreamCalls, StreamRoster} {
		a, b := generate(t, params(kind, 7)), generate(t, params(kind, 7))
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two streams from seed 7 differ", kind)
		}
		c := generate(t, params(kind, 8))
		if reflect.DeepEqual(a.Msgs, c.Msgs) {
			t.Errorf("%s: seeds 7 and 8 gave the same messages", kind)
		}
		if len(a.Msgs) != 3000 {
			t.Errorf("%s: %d messages, want 3000", kind, len(a.Msgs))
		}
	}
}

// TestGenerateShape checks the mix the brief asks for: activeSpeaker
// toggles dominate the roster stream, participant counts the calls stream,
// and both start and end calls or participants.
func TestGenerateShape(t *testing.T) {
	count := func(s *Stream, sub string) int {
		n := 0
		for _, m := range s.Msgs {
			if strings.Contains(string(m.Body), sub) {
				n++
			}
		}
		return n
	}
	r := generate(t, Params{Kind: StreamRoster, Seed: 1, Calls: 50, Participants: 20, Messages: 20000})
	if sp := float64(count(r, `"activeSpeaker"`)) / 20000; sp < 0.6 || sp > 0.75 {
		t.Errorf("roster stream: activeSpeaker in %.2f of the messages, want about 0.7", sp)
	}
	for _, sub := range []string{`"updateType":"add"`, `"updateType":"remove"`, `"audioMuted"`, `"layout"`} {
		if count(r, sub) == 0 {
			t.Errorf("roster stream: no %s", sub)
		}
	}
	c := generate(t, Params{Kind: StreamCalls, Seed: 1, Calls: 200, Messages: 20000})
	if p := float64(count(c, `"participants"`)) / 20000; p < 0.6 {
		t.Errorf("calls stream: participants in %.2f of the messages, want most", p)
	}
	for _, sub := range []string{`"updateType":"add"`, `"updateType":"remove"`, `"recording"`, `"lockState"`, `"name"`} {
		if count(c, sub) == 0 {
			t.Errorf("calls stream: no %s", sub)
		}
	}
}

// replay applies the stream's frames, decoded by cmsws (not by the
// generator), to the initial state, counting the live transitions.
func replay(t *testing.T, s *Stream) *State {
	t.Helper()
	st := s.Initial.Clone()
	for i, m := range s.Msgs {
		frame := fmt.Sprintf(`{"type":"message","message":{"messageId":%d,"type":%q,"subscriptionIndex":1,%s`, i+1, m.Type, m.Body)
		f, err := cmsws.DecodeFrame([]byte(frame))
		if err != nil {
			t.Fatalf("message %d: %v: %s", i, err, frame)
		}
		for _, u := range f.Message.CallUpdates {
			applyCall(t, st, &u)
		}
		for _, u := range f.Message.RosterUpdates {
			applyParticipant(t, st, m.Target, &u)
		}
	}
	return st
}

func applyCall(t *testing.T, st *State, u *cmsws.CallUpdate) {
	cl := st.Calls[u.Call]
	switch u.UpdateType {
	case cmsws.UpdateAdd:
		cl = &Call{ID: u.Call, Correlator: u.CallCorrelator.Value}
		st.Calls[u.Call] = cl
		st.Order = append(st.Order, u.Call)
		st.Counters.MeetingsStarted++
	case cmsws.UpdateRemove:
		delete(st.Calls, u.Call)
		delete(st.Rosters, u.Call)
		st.Counters.MeetingsEnded++
		if cl.Recording {
			st.Counters.RecordingsStopped++
		}
		if cl.Streaming {
			st.Counters.StreamsStopped++
		}
		return
	}
	if cl == nil {
		t.Fatalf("update of unknown call %s", u.Call)
	}
	set := func(f cmsws.Field[string], v *string) {
		if f.State == cmsws.Valid {
			*v = f.Value
		}
	}
	flag := func(f cmsws.Field[string], v *bool, on, off *int) {
		if f.State != cmsws.Valid {
			return
		}
		was := *v
		*v = f.Value == "active" || f.Value == "locked"
		if u.UpdateType == cmsws.UpdateUpdate && on != nil && was != *v {
			st.Counters.count(*v, on, off)
		}
	}
	set(u.Name, &cl.Name)
	set(u.CallType, &cl.CallType)
	if u.Participants.State == cmsws.Valid {
		cl.Participants = u.Participants.Value
	}
	if u.DistributedInstances.State == cmsws.Valid {
		cl.DistributedInstances = u.DistributedInstances.Value
	}
	flag(u.Recording, &cl.Recording, &st.Counters.RecordingsStarted, &st.Counters.RecordingsStopped)
	flag(u.Streaming, &cl.Streaming, &st.Counters.StreamsStarted, &st.Counters.StreamsStopped)
	flag(u.EndpointRecording, &cl.EndpointRecording, nil, nil)
	flag(u.LockState, &cl.Locked, nil, nil)
}

func applyParticipant(t *testing.T, st *State, call string, u *cmsws.RosterUpdate) {
	ps := st.Rosters[call]
	i := slices.IndexFunc(ps, func(p *Participant) bool { return p.ID == u.Participant })
	switch u.UpdateType {
	case cmsws.UpdateAdd:
		ps = append(ps, &Participant{ID: u.Participant})
		i = len(ps) - 1
		st.Rosters[call] = ps
		st.Counters.ParticipantsJoined++
	case cmsws.UpdateRemove:
		st.Rosters[call] = slices.Delete(ps, i, i+1)
		st.Counters.ParticipantsLeft++
		return
	}
	if i < 0 {
		t.Fatalf("update of unknown participant %s", u.Participant)
	}
	p := ps[i]
	for _, f := range []struct {
		f cmsws.Field[string]
		v *string
	}{{u.Name, &p.Name}, {u.URI, &p.URI}, {u.State, &p.State}, {u.Direction, &p.Direction}, {u.Layout, &p.Layout}} {
		if f.f.State == cmsws.Valid {
			*f.v = f.f.Value
		}
	}
	for _, f := range []struct {
		f cmsws.Field[bool]
		v *bool
	}{{u.AudioMuted, &p.AudioMuted}, {u.VideoMuted, &p.VideoMuted}, {u.ActiveSpeaker, &p.ActiveSpeaker},
		{u.Presenter, &p.Presenter}, {u.CanMove, &p.CanMove}, {u.TxAudioMuted, &p.TxAudioMuted}, {u.TxVideoMuted, &p.TxVideoMuted}} {
		if f.f.State == cmsws.Valid {
			*f.v = f.f.Value
		}
	}
	if u.EndpointRecording.State == cmsws.Valid {
		p.EndpointRecording = u.EndpointRecording.Value == "active"
	}
}

// TestTruthMatchesReplay: the state the generator says the stream ends in
// is the state its frames, decoded by cmsws, lead to; so is the truth
// derived from it.
func TestTruthMatchesReplay(t *testing.T) {
	for _, kind := range []string{StreamCalls, StreamRoster} {
		s := generate(t, params(kind, 3))
		got := replay(t, s)
		got.Order = got.CallIDs()
		want := s.Final.Clone()
		want.Order = want.CallIDs()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: replayed state differs from the generator's final state\n got counters %+v\nwant counters %+v", kind, got.Counters, want.Counters)
		}
		if d := Diff(Truth(got, "n", s.Watched()), Truth(s.Final, "n", s.Watched())); len(d) > 0 {
			t.Errorf("%s: truth differs: %v", kind, d)
		}
		if s.Final.Counters == s.Initial.Counters {
			t.Errorf("%s: no live transitions in the stream", kind)
		}
	}
}

func TestDiff(t *testing.T) {
	want := Series{SeriesKey("cms_up", "node", "n"): 1, SeriesKey("cms_participants_left_total"): 3}
	got := Series{SeriesKey("cms_up", "node", "n"): 1,
		SeriesKey("cms_participants_left_total", "reason", "timeout"):  1,
		SeriesKey("cms_participants_left_total", "reason", "other"):    2,
		SeriesKey("cms_node_calls", "node", "n", "call_type", "adHoc"): 0,
		SeriesKey("go_goroutines"):                                     5}
	if d := Diff(got, want); len(d) > 0 {
		t.Fatalf("equal series differ: %v", d)
	}
	got[SeriesKey("cms_up", "node", "n")] = 0
	got[SeriesKey("cms_call_locked", "node", "n", "call", "x")] = 1
	delete(got, SeriesKey("cms_participants_left_total", "reason", "other"))
	d := Diff(got, want)
	if len(d) != 3 {
		t.Fatalf("want 3 differences, got %v", d)
	}
}

func newServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer("admin", "secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// runBare runs the bare client through a whole run and returns the result.
func runBare(t *testing.T, srv *Server, s *Stream, mode Mode) Result {
	t.Helper()
	run, err := srv.Arm(s, mode, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := ClientTLS(srv.CAPEM())
	if err != nil {
		t.Fatal(err)
	}
	c := &BareClient{URL: srv.URL(), User: "admin", Pass: "secret", TLS: tlsConf, Watched: s.Watched()}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("bare client: %v", err)
		}
	}()
	select {
	case <-run.Ready():
	case res := <-run.Done():
		t.Fatalf("run ended before it was ready: %v", res.Err)
	}
	run.Start()
	res := <-run.Done()
	if res.Err == nil && c.Messages.Load() != int64(res.Sent) {
		t.Errorf("bare client acked %d messages, server sent %d", c.Messages.Load(), res.Sent)
	}
	return res
}

func TestBareClientRun(t *testing.T) {
	srv := newServer(t)
	for _, kind := range []string{StreamCalls, StreamRoster} {
		for _, mode := range []Mode{StopAndWait, Pipelined} {
			s := generate(t, Params{Kind: kind, Seed: 1, Calls: 30, Participants: 4, Messages: 500})
			res := runBare(t, srv, s, mode)
			if res.Err != nil {
				t.Fatalf("%s %s: %v", kind, mode, res.Err)
			}
			if res.Sent < 500 || res.LastAck.Before(res.Start) || res.Extra != 0 {
				t.Errorf("%s %s: implausible result %+v", kind, mode, res)
			}
			wantHeld := 1 + len(s.Watched())
			if len(res.Held) != wantHeld {
				t.Errorf("%s %s: %d subscriptions held, want %d", kind, mode, len(res.Held), wantHeld)
			}
		}
	}
}

// rogue is a client that acks as told by ackFor: it returns the id (and
// status) to ack for a message, after the setup.
func rogue(t *testing.T, srv *Server, mode Mode, ackFor func(n int, id int64) (int64, string)) error {
	t.Helper()
	res := rogueMid(t, srv, mode, ackFor, nil)
	return res.Err
}

// rogueMid is rogue that also sends mid, when not nil, as a subscribeRequest
// after the tenth message of the stream, as a probe would.
func rogueMid(t *testing.T, srv *Server, mode Mode, ackFor func(n int, id int64) (int64, string), mid []cmsws.Subscription) Result {
	t.Helper()
	s := generate(t, Params{Kind: StreamCalls, Seed: 1, Calls: 3, Messages: 50})
	run, err := srv.Arm(s, mode, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := ClientTLS(srv.CAPEM())
	if err != nil {
		t.Fatal(err)
	}
	c := &BareClient{URL: srv.URL(), User: "admin", Pass: "secret", TLS: tlsConf}
	// The token, through the bare client's own code path, then a raw
	// WebSocket this test drives.
	ws := dialRaw(t, c)
	base := []cmsws.Subscription{{Index: 1, Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}}
	sr, _ := cmsws.EncodeMessage(&cmsws.Message{MessageID: 1, Type: cmsws.TypeSubscribeRequest, Subscriptions: base})
	if err := ws.WriteMessage(websocket.TextMessage, sr); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-run.Ready()
		run.Start()
	}()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		started := false
		n := 0
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			f, err := cmsws.DecodeFrame(data)
			if err != nil || f.Message == nil {
				continue
			}
			id, status := f.Message.MessageID, cmsws.AckSuccess
			if f.Message.Type == cmsws.TypeCallListUpdate && strings.Contains(string(data), `"updateType":"update"`) {
				started = true
			}
			if started {
				n++
				id, status = ackFor(n, id)
			}
			if err := ws.WriteMessage(websocket.TextMessage, cmsws.EncodeAck(id, status)); err != nil {
				return
			}
			if n == 10 && mid != nil {
				req, _ := cmsws.EncodeMessage(&cmsws.Message{MessageID: 2, Type: cmsws.TypeSubscribeRequest, Subscriptions: mid})
				if err := ws.WriteMessage(websocket.TextMessage, req); err != nil {
					return
				}
			}
		}
	}()
	res := <-run.Done()
	ws.Close()
	<-readerDone
	return res
}

func dialRaw(t *testing.T, c *BareClient) *websocket.Conn {
	t.Helper()
	ws, err := c.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestServerStrictAcks(t *testing.T) {
	srv := newServer(t)
	for _, mode := range []Mode{StopAndWait, Pipelined} {
		if err := rogue(t, srv, mode, func(_ int, id int64) (int64, string) { return id, cmsws.AckSuccess }); err != nil {
			t.Fatalf("%s: a correct client failed: %v", mode, err)
		}
		for name, tc := range map[string]struct {
			ack  func(n int, id int64) (int64, string)
			want string
		}{
			"wrong id":     {func(n int, id int64) (int64, string) { return id + int64(n/10), cmsws.AckSuccess }, "want"},
			"repeated ack": {func(n int, id int64) (int64, string) { return min(id, 20), cmsws.AckSuccess }, "ack of messageId"},
			"failure status": {func(n int, id int64) (int64, string) {
				return id, map[bool]string{true: "failure", false: cmsws.AckSuccess}[n == 7]
			}, "status"},
		} {
			err := rogue(t, srv, mode, tc.ack)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s, %s: err %v, want one saying %q", mode, name, err, tc.want)
			}
		}
	}
}

// TestServerMidStreamRequest: an unchanged request during the stream (a
// liveness probe) is answered and counted as extra; a changed one fails
// the run, since the stream was resolved for the set held at its start.
func TestServerMidStreamRequest(t *testing.T) {
	srv := newServer(t)
	ok := func(_ int, id int64) (int64, string) { return id, cmsws.AckSuccess }
	same := []cmsws.Subscription{{Index: 1, Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}}
	for _, mode := range []Mode{StopAndWait, Pipelined} {
		res := rogueMid(t, srv, mode, ok, same)
		if res.Err != nil || res.Extra != 1 {
			t.Errorf("%s: unchanged request mid-stream: err %v, extra %d; want nil, 1", mode, res.Err, res.Extra)
		}
		changed := append(slices.Clone(same), cmsws.Subscription{Index: 2, Type: cmsws.ResourceCallRoster, Call: "x"})
		res = rogueMid(t, srv, mode, ok, changed)
		if res.Err == nil || !strings.Contains(res.Err.Error(), "changed its subscriptions") {
			t.Errorf("%s: changed request mid-stream: err %v", mode, res.Err)
		}
	}
}
