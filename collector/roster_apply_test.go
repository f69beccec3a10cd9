package collector

import (
	"testing"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// TestRosterUpdates applies live roster messages to rosterHarness's meeting
// (p1 and p2 connected, nothing muted) and checks the roster series, the
// cluster totals and the participant counters.
func TestRosterUpdates(t *testing.T) {
	invalidBool := cmsws.Field[bool]{State: cmsws.Invalid, Raw: `"yes"`}
	invalidStr := cmsws.Field[string]{State: cmsws.Invalid, Raw: `42`}

	tests := []struct {
		name     string
		messages [][]cmsws.RosterUpdate
		want     func(r rosterRow) rosterRow
		joined   int
		moved    int
		left     map[string]int
		// errors by reason; unlisted reasons must stay 0
		errors map[string]float64
	}{
		{
			name:     "a dial-out joins initial and rings",
			messages: [][]cmsws.RosterUpdate{{padd("p3", pstate("initial"), pfield(func(u *cmsws.RosterUpdate) { u.Direction = cmsws.Set("outgoing") }))}, {pupd("p3", pstate("ringing"))}},
			want:     func(r rosterRow) rosterRow { r.states = [numStates]int{0, 1, 2, 0, 0}; return r },
			joined:   1,
		},
		{
			name: "ringing then connected",
			messages: [][]cmsws.RosterUpdate{{padd("p3", pstate("initial"))}, {pupd("p3", pstate("ringing"))},
				{pupd("p3", pstate("connected"))}},
			want:   func(r rosterRow) rosterRow { r.states = [numStates]int{0, 0, 3, 0, 0}; return r },
			joined: 1,
		},
		{
			name:     "several joins in one message",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", pstate("onHold"))}, {padd("p3"), padd("p4"), padd("p5", pstate("initial"))}},
			want:     func(r rosterRow) rosterRow { r.states = [numStates]int{1, 0, 3, 1, 0}; return r },
			joined:   3,
		},
		{
			name:     "a leave with a reason",
			messages: [][]cmsws.RosterUpdate{{prm("p1", reason("timeout"))}},
			want:     func(r rosterRow) rosterRow { r.states[2] = 1; return r },
			left:     map[string]int{"timeout": 1},
		},
		{
			name:     "a leave without reason (participant hosted elsewhere)",
			messages: [][]cmsws.RosterUpdate{{prm("p2")}},
			want:     func(r rosterRow) rosterRow { r.states[2] = 1; return r },
			left:     map[string]int{"none": 1},
		},
		{
			name: "null reason is none, an unexpected one other",
			messages: [][]cmsws.RosterUpdate{{prm("p1", pfield(func(u *cmsws.RosterUpdate) { u.Reason = cmsws.NullField[string]() }))},
				{prm("p2", reason("gremlins"))}},
			want: func(r rosterRow) rosterRow { r.states[2] = 0; return r },
			left: map[string]int{"none": 1, "other": 1},
		},
		{
			name: "back to initial before the remove is the normal way out",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", pstate("initial"))}, {prm("p1", reason("callEnded"))},
				{pupd("p2", pstate("initial"))}},
			want: func(r rosterRow) rosterRow { r.states = [numStates]int{1, 0, 0, 0, 0}; return r },
			left: map[string]int{"callEnded": 1},
		},
		{
			name: "a leave reported twice counts once and is no error",
			messages: [][]cmsws.RosterUpdate{{prm("p1", reason("remoteTeardown"))}, {prm("p1")},
				{pupd("p1", audioMuted(true))}, {padd("p1")}},
			want: func(r rosterRow) rosterRow { r.states[2] = 1; return r },
			left: map[string]int{"remoteTeardown": 1},
		},
		{
			name: "all four mutes, then unmutes",
			messages: [][]cmsws.RosterUpdate{
				{pupd("p1", audioMuted(true), videoMuted(true), txAudioMuted(true), txVideoMuted(true))},
				{pupd("p2", audioMuted(true), txVideoMuted(true))},
				{pupd("p1", videoMuted(false))},
				{padd("p3", audioMuted(true), videoMuted(true))}},
			want: func(r rosterRow) rosterRow {
				r.states[2], r.audio, r.video, r.txAudio, r.txVideo = 3, 3, 1, 1, 2
				return r
			},
			joined: 1,
		},
		{
			name: "a muted participant leaving takes its mutes along",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", audioMuted(true), videoMuted(true), presenter(true))},
				{prm("p1", reason("timeout"))}},
			want: func(r rosterRow) rosterRow { r.states[2] = 1; return r },
			left: map[string]int{"timeout": 1},
		},
		{
			name: "presenter and active speakers",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", presenter(true), activeSpeaker(true))},
				{pupd("p2", activeSpeaker(true))}, {pupd("p1", activeSpeaker(false))}, {pupd("p1", activeSpeaker(true))},
				{pupd("p2", activeSpeaker(false))}},
			want: func(r rosterRow) rosterRow { r.pres, r.spk = 1, 1; return r },
		},
		{
			name:     "endpoint recording",
			messages: [][]cmsws.RosterUpdate{{pupd("p2", epRecording("active"))}},
			want:     func(r rosterRow) rosterRow { r.rec = 1; return r },
		},
		{
			name: "null unsets: off, state other",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", audioMuted(true), presenter(true))},
				{pupd("p1", pfield(func(u *cmsws.RosterUpdate) {
					u.AudioMuted = cmsws.NullField[bool]()
					u.Presenter = cmsws.NullField[bool]()
					u.State = cmsws.NullField[string]()
					u.Layout = cmsws.NullField[string]()
				}))}},
			want: func(r rosterRow) rosterRow { r.states = [numStates]int{0, 0, 1, 0, 1}; return r },
		},
		{
			name: "absent elements leave everything unchanged",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", audioMuted(true), pstate("onHold"))},
				{pupd("p1", pfield(func(u *cmsws.RosterUpdate) { u.Layout = cmsws.Set("speakerOnly") }))}},
			want: func(r rosterRow) rosterRow { r.states = [numStates]int{0, 0, 1, 1, 0}; r.audio = 1; return r },
		},
		{
			name: "a state CMS may add later is other, not an error",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", pstate("inLobby"))},
				{pupd("p2", pfield(func(u *cmsws.RosterUpdate) { u.Layout = cmsws.Set("fancyNewLayout") }))}},
			want: func(r rosterRow) rosterRow { r.states = [numStates]int{0, 0, 1, 0, 1}; return r },
		},
		{
			name: "values of the wrong type or outside active/inactive are invalid and leave the value",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", audioMuted(true))},
				{pupd("p1", videoMuted(true), pfield(func(u *cmsws.RosterUpdate) {
					u.AudioMuted = invalidBool
					u.State = invalidStr
					u.Presenter = invalidBool
				}), epRecording("maybe"))}},
			want:   func(r rosterRow) rosterRow { r.audio, r.video = 1, 1; return r },
			errors: map[string]float64{"invalid_value": 4},
		},
		{
			name: "an update for an unknown participant is counted and ignored",
			messages: [][]cmsws.RosterUpdate{{pupd("ghost", audioMuted(true))}, {prm("phantom", reason("timeout"))},
				{pupd("p1", activeSpeaker(true))}},
			want:   func(r rosterRow) rosterRow { r.spk = 1; return r },
			errors: map[string]float64{"unknown_participant": 2},
		},
		{
			name: "unknown update type and empty id are invalid",
			messages: [][]cmsws.RosterUpdate{{{Participant: "p1", UpdateType: "merge"}},
				{padd("")}, {padd("p3")}},
			want:   func(r rosterRow) rosterRow { r.states[2] = 3; return r },
			joined: 1,
			errors: map[string]float64{"invalid_value": 2},
		},
		{
			name:     "a live add of a known participant replaces it and is no join",
			messages: [][]cmsws.RosterUpdate{{pupd("p1", audioMuted(true))}, {padd("p1", pstate("onHold"))}},
			want:     func(r rosterRow) rosterRow { r.states = [numStates]int{0, 0, 1, 1, 0}; return r },
		},
		{
			name:     "a join carrying a participant GUID in movedParticipant is a move",
			messages: [][]cmsws.RosterUpdate{{padd("p3", movedFrom(guid(7)))}},
			want:     func(r rosterRow) rosterRow { r.states[2] = 3; return r },
			joined:   1,
			moved:    1,
		},
		{
			name: "garbage in movedParticipant is a join, not a move, and no error",
			messages: [][]cmsws.RosterUpdate{{padd("p3", movedFrom("\xff\xfe\xfd\xfc-garbage-that-is-not-a-guid-\x00\x01"))},
				{padd("p4", movedFrom("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"))},
				{padd("p5", pfield(func(u *cmsws.RosterUpdate) { u.MovedParticipant = cmsws.NullField[string]() }))}},
			want:   func(r rosterRow) rosterRow { r.states[2] = 5; return r },
			joined: 3,
		},
		{
			name:     "movedParticipant of the wrong JSON type is invalid",
			messages: [][]cmsws.RosterUpdate{{padd("p3", pfield(func(u *cmsws.RosterUpdate) { u.MovedParticipant = invalidStr }))}},
			want:     func(r rosterRow) rosterRow { r.states[2] = 3; return r },
			joined:   1,
			errors:   map[string]float64{"invalid_value": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, sub := rosterHarness(t, perCall)
			h.expect(rosterText(baseRow)+participantTotalsText(0, 0, nil), append(rosterFamilies, participantTotalNames...)...)

			for _, m := range tt.messages {
				h.roster("a", 0, sub, m...)
			}
			want := tt.want(baseRow)
			h.expect(rosterText(want)+participantTotalsText(tt.joined, tt.moved, tt.left)+
				clusterRosterText(want.audio, want.video, want.txAudio, want.txVideo, want.pres)+
				coverageText(1, 1, 0, 0, 0),
				append(append(append(rosterFamilies, participantTotalNames...), clusterRosterNames...), coverageNames...)...)
			for _, reason := range knownErrorReasons {
				if got := h.errors("a", reason); got != tt.errors[reason] {
					t.Errorf("errors{reason=%s} = %v, want %v", reason, got, tt.errors[reason])
				}
			}
		})
	}
}
