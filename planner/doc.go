// Package planner decides which node and which event connection
// carries the callRoster subscription of each meeting, inside the CMS limit
// of 100 subscriptions per connection, and runs that decision in a batching
// loop.
//
// Only one roster subscription per meeting is needed: a roster subscription
// on any node hosting a meeting lists local and remote participants alike.
// The budget is the scarce resource, so the planner covers the largest
// meetings first when it is short, spreads subscriptions over nodes, and
// never moves a subscription without a cause: every move costs CMS a
// snapshot replay and the exporter a resync window.
//
// Compute is pure and deterministic; Runner wraps it in a loop that asks the
// model for its input every batch interval and pushes each connection's
// complete subscription set, so a burst of new meetings costs one
// subscribeRequest per connection, not one per meeting.
package planner
