package streambench

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Series is a set of samples keyed by name{label="value",...}, labels
// sorted.
type Series map[string]float64

// SeriesKey builds a Series key from a name and label pairs.
func SeriesKey(name string, kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
	}
	slices.Sort(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Samples turns gathered families into Series.
func Samples(mfs []*dto.MetricFamily) Series {
	out := Series{}
	for _, f := range mfs {
		for _, m := range f.GetMetric() {
			kv := make([]string, 0, 2*len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				kv = append(kv, l.GetName(), l.GetValue())
			}
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			default:
				v = m.GetUntyped().GetValue()
			}
			out[SeriesKey(f.GetName(), kv...)] = v
		}
	}
	return out
}

// truthFamilies are the families Truth speaks for: on them the exporter
// must show exactly the truth. The lock aggregates are left out: they
// depend on the time a call was added (CMS announces new calls locked, and
// the exporter believes a lock only after a while), not on the stream
// alone; the raw cms_call_locked is compared.
var truthFamilies = []string{
	"cms_up", "cms_events_synced",
	"cms_call_info", "cms_call_participants", "cms_call_distributed_instances", "cms_call_recording",
	"cms_call_streaming", "cms_call_endpoint_recording", "cms_call_locked",
	"cms_node_calls", "cms_cluster_meetings", "cms_cluster_participants",
	"cms_cluster_meetings_recording", "cms_cluster_meetings_streaming",
	"cms_meetings_started_total", "cms_meetings_ended_total",
	"cms_recordings_started_total", "cms_recordings_stopped_total",
	"cms_streams_started_total", "cms_streams_stopped_total",
	"cms_participants_joined_total", "cms_participants_left_total",
	"cms_call_roster_participants",
	"cms_call_participants_audio_muted", "cms_call_participants_video_muted",
	"cms_call_participants_tx_audio_muted", "cms_call_participants_tx_video_muted",
	"cms_call_participants_presenting", "cms_call_participants_active_speakers",
	"cms_call_participants_endpoint_recording",
	"cms_cluster_participants_audio_muted", "cms_cluster_participants_video_muted",
	"cms_cluster_participants_tx_audio_muted", "cms_cluster_participants_tx_video_muted",
	"cms_cluster_participants_presenting",
}

// summed families are compared as the sum of their series: the truth
// knows how many left, the exporter also says why.
var summed = map[string]bool{"cms_participants_left_total": true}

// zeroRows may show zero-valued series the truth does not list (a call
// type with no calls).
var zeroRows = map[string]bool{"cms_node_calls": true, "cms_cluster_meetings": true}

// rosterStates are the exporter's participant states.
var rosterStates = []string{"initial", "ringing", "connected", "onHold", "other"}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Truth is what the exporter must show for node after st, with the rosters
// of watched calls subscribed.
func Truth(st *State, node string, watched []string) Series {
	want := Series{}
	c := st.Counters
	for name, v := range map[string]int{
		"cms_meetings_started_total": c.MeetingsStarted, "cms_meetings_ended_total": c.MeetingsEnded,
		"cms_recordings_started_total": c.RecordingsStarted, "cms_recordings_stopped_total": c.RecordingsStopped,
		"cms_streams_started_total": c.StreamsStarted, "cms_streams_stopped_total": c.StreamsStopped,
		"cms_participants_joined_total": c.ParticipantsJoined, "cms_participants_left_total": c.ParticipantsLeft,
	} {
		want[SeriesKey(name)] = float64(v)
	}
	want[SeriesKey("cms_up", "node", node)] = 1
	want[SeriesKey("cms_events_synced", "node", node)] = 1
	var parts, rec, str float64
	for _, id := range st.CallIDs() {
		cl := st.Calls[id]
		nc := []string{"node", node, "call", id}
		want[SeriesKey("cms_call_info", "node", node, "call", id, "correlator", cl.Correlator, "name", cl.Name, "call_type", cl.CallType)] = 1
		want[SeriesKey("cms_call_participants", nc...)] = float64(cl.Participants)
		want[SeriesKey("cms_call_distributed_instances", nc...)] = float64(cl.DistributedInstances)
		want[SeriesKey("cms_call_recording", nc...)] = b2f(cl.Recording)
		want[SeriesKey("cms_call_streaming", nc...)] = b2f(cl.Streaming)
		want[SeriesKey("cms_call_endpoint_recording", nc...)] = b2f(cl.EndpointRecording)
		want[SeriesKey("cms_call_locked", nc...)] = b2f(cl.Locked)
		want[SeriesKey("cms_node_calls", "node", node, "call_type", cl.CallType)]++
		want[SeriesKey("cms_cluster_meetings", "call_type", cl.CallType)]++
		parts += float64(cl.Participants)
		rec += b2f(cl.Recording)
		str += b2f(cl.Streaming)
	}
	want[SeriesKey("cms_cluster_participants")] = parts
	want[SeriesKey("cms_cluster_meetings_recording")] = rec
	want[SeriesKey("cms_cluster_meetings_streaming")] = str

	var audio, video, presenting float64
	for _, id := range watched {
		if st.Calls[id] == nil {
			continue
		}
		nc := []string{"node", node, "call", id}
		states := map[string]float64{}
		var a, v, ta, tv, pr, as, er float64
		for _, p := range st.Rosters[id] {
			s := p.State
			if !slices.Contains(rosterStates, s) {
				s = "other"
			}
			states[s]++
			a += b2f(p.AudioMuted)
			v += b2f(p.VideoMuted)
			ta += b2f(p.TxAudioMuted)
			tv += b2f(p.TxVideoMuted)
			pr += b2f(p.Presenter)
			as += b2f(p.ActiveSpeaker)
			er += b2f(p.EndpointRecording)
		}
		for _, s := range rosterStates {
			want[SeriesKey("cms_call_roster_participants", "node", node, "call", id, "state", s)] = states[s]
		}
		want[SeriesKey("cms_call_participants_audio_muted", nc...)] = a
		want[SeriesKey("cms_call_participants_video_muted", nc...)] = v
		want[SeriesKey("cms_call_participants_tx_audio_muted", nc...)] = ta
		want[SeriesKey("cms_call_participants_tx_video_muted", nc...)] = tv
		want[SeriesKey("cms_call_participants_presenting", nc...)] = pr
		want[SeriesKey("cms_call_participants_active_speakers", nc...)] = as
		want[SeriesKey("cms_call_participants_endpoint_recording", nc...)] = er
		audio += a
		video += v
		presenting += pr
	}
	want[SeriesKey("cms_cluster_participants_audio_muted")] = audio
	want[SeriesKey("cms_cluster_participants_video_muted")] = video
	want[SeriesKey("cms_cluster_participants_tx_audio_muted")] = 0
	want[SeriesKey("cms_cluster_participants_tx_video_muted")] = 0
	want[SeriesKey("cms_cluster_participants_presenting")] = presenting
	return want
}

func family(k string) string { return k[:strings.IndexByte(k, '{')] }

// Diff lists every difference between got and want on the truth's
// families, sorted; empty when they agree.
func Diff(got, want Series) []string {
	inScope := map[string]bool{}
	for _, f := range truthFamilies {
		inScope[f] = true
	}
	var out []string
	sums := map[string][2]float64{}
	for k, w := range want {
		f := family(k)
		if summed[f] {
			s := sums[f]
			s[1] += w
			sums[f] = s
			continue
		}
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("missing %s (want %g)", k, w))
		case g != w:
			out = append(out, fmt.Sprintf("%s = %g, want %g", k, g, w))
		}
	}
	for k, g := range got {
		f := family(k)
		if !inScope[f] {
			continue
		}
		if summed[f] {
			s := sums[f]
			s[0] += g
			sums[f] = s
			continue
		}
		if _, ok := want[k]; !ok && !(zeroRows[f] && g == 0) {
			out = append(out, fmt.Sprintf("unexpected %s = %g", k, g))
		}
	}
	for _, f := range slices.Sorted(maps.Keys(sums)) {
		if s := sums[f]; s[0] != s[1] {
			out = append(out, fmt.Sprintf("sum of %s = %g, want %g", f, s[0], s[1]))
		}
	}
	slices.Sort(out)
	return out
}
