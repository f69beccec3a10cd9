// Package cmsrest polls a Cisco Meeting Server node's own counters over its
// REST API (HTTP Basic on every request, XML answers): system status, media
// load, the configured load and participant limits, active alarms and
// licences. One Poller per node sends one request per resource per
// interval, never two at once, jittered so that nodes are not polled in
// lockstep, and reports every answer or failure to a Sink. Like cmsws, it
// knows nothing of Prometheus or of the model.
package cmsrest

import "time"

// Resource names what one request reads (the resource label of the
// metrics).
type Resource string

// The resources a Poller reads, in the order it reads them.
const (
	ResourceStatus              Resource = "status"               // GET /api/v1/system/status
	ResourceLoad                Resource = "load"                 // GET /api/v1/system/load
	ResourceCluster             Resource = "cluster"              // GET /api/v1/system/configuration/cluster (limits)
	ResourceAlarms              Resource = "alarms"               // GET /api/v1/system/alarms
	ResourceLicensing           Resource = "licensing"            // GET /api/v1/system/licensing
	ResourceMultipartyLicensing Resource = "multiparty_licensing" // GET /api/v1/system/multipartyLicensing
)

// Resources lists every Resource, in polling order.
var Resources = []Resource{ResourceStatus, ResourceLoad, ResourceCluster, ResourceAlarms, ResourceLicensing, ResourceMultipartyLicensing}

// Path is the API path of a resource.
func (r Resource) Path() string {
	switch r {
	case ResourceStatus:
		return "/api/v1/system/status"
	case ResourceLoad:
		return "/api/v1/system/load"
	case ResourceCluster:
		return "/api/v1/system/configuration/cluster"
	case ResourceAlarms:
		return "/api/v1/system/alarms"
	case ResourceLicensing:
		return "/api/v1/system/licensing"
	case ResourceMultipartyLicensing:
		return "/api/v1/system/multipartyLicensing"
	}
	return ""
}

// Failure reasons (bounded: used as metric label values).
const (
	FailureAuth       = "auth"        // 401 or 403: wrong credentials or missing API rights
	FailureHTTPStatus = "http_status" // any other non-2xx answer
	FailureTimeout    = "timeout"     // no complete answer within the timeout
	FailureNetwork    = "network"     // DNS, TCP, connection reset
	FailureTLS        = "tls"         // certificate or handshake failure
	FailureDecode     = "decode"      // the body is not the XML expected
)

// Failures lists every failure reason.
var Failures = []string{FailureAuth, FailureHTTPStatus, FailureTimeout, FailureNetwork, FailureTLS, FailureDecode}

// Status is /api/v1/system/status. Optional numbers are nil when the node
// did not send them (older releases lack some).
type Status struct {
	SoftwareVersion   string
	UptimeSeconds     *float64
	Activated         *bool
	ClusterEnabled    *bool
	CallLegsActive    *int64
	CallLegsMaxActive *int64
	// CallLegsCompleted only grows while the node runs (a counter).
	CallLegsCompleted *int64
	// Media bit rates, in bits per second, as CMS reports them.
	AudioBitRateOutgoing, AudioBitRateIncoming *int64
	VideoBitRateOutgoing, VideoBitRateIncoming *int64
}

// Load is /api/v1/system/load.
type Load struct {
	MediaProcessingLoad *int64
}

// Cluster is the limits of /api/v1/system/configuration/cluster: nil when
// the node has no such limit configured.
type Cluster struct {
	LoadLimit        *int64
	ParticipantLimit *int64
}

// Alarm is one active alarm of /api/v1/system/alarms.
type Alarm struct {
	// ID is the alarm's id attribute: unique to this occurrence, so an
	// alarm that clears and comes back has a new one.
	ID   string
	Type string
	// ActiveFor is how long it has been active (activeTimeSeconds).
	ActiveFor time.Duration
}

// Feature is one licensed feature of /api/v1/system/licensing.
type Feature struct {
	Name   string // the element name: callBridge, webBridge, turn, recording, personal, shared, ...
	Status string // noLicense, activated, expired (others passed through)
	// Expiry is the licence's expiry date (zero when none is given).
	Expiry time.Time
	// Limit is the licensed number, for features that have one.
	Limit *int64
}

// Licensing is /api/v1/system/licensing.
type Licensing struct {
	Features []Feature
}

// MultipartyLicensing is /api/v1/system/multipartyLicensing.
type MultipartyLicensing struct {
	PersonalLicenseLimit                *int64
	PersonalLicenses                    *int64 // assigned to users
	SharedLicenseLimit                  *int64
	CapacityUnitLimit                   *int64
	CapacityUnitUsage                   *int64
	WeightedCallsActive                 *int64
	WeightedCallsWithoutPersonalLicense *int64
}

// Result is one request's outcome. Exactly one of the resource fields is
// set when Err is nil.
type Result struct {
	Node     string
	Resource Resource
	Time     time.Time // when the answer (or failure) came
	// Err and Reason (one of Failures) say why the request failed.
	Err    error
	Reason string
	// Took is the request's duration.
	Took time.Duration

	Status              *Status
	Load                *Load
	Cluster             *Cluster
	Alarms              []Alarm // set (maybe empty, never nil) for ResourceAlarms
	Licensing           *Licensing
	MultipartyLicensing *MultipartyLicensing
}

// Sink receives a Poller's results, one at a time, from its goroutine.
type Sink func(Result)
