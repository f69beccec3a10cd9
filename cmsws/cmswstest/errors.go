package cmswstest

import "errors"

// Errors of the scenario API, wrapped with detail; test with errors.Is.
var (
	ErrUnknownNode        = errors.New("cmswstest: unknown node")
	ErrUnknownMeeting     = errors.New("cmswstest: unknown meeting")
	ErrUnknownParticipant = errors.New("cmswstest: unknown participant")
	ErrNotHosted          = errors.New("cmswstest: meeting not hosted on node")
	ErrAlreadyHosted      = errors.New("cmswstest: meeting already hosted on node")
	ErrInvalid            = errors.New("cmswstest: invalid argument")
	ErrClosed             = errors.New("cmswstest: cluster closed")
)
