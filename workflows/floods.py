"""The bounds that keep a flood of messages from silencing a journey (`BOUNDED_FLOODS`):
how many signals one workflow task reads and logs, when a run has taken enough to continue
as new, and when it is close to Temporal's hard limits. docs/architecture.md, "Floods"."""

from __future__ import annotations

from datetime import timedelta

# Reading one signal (decode, check, keep a refusal) costs ~0.2 ms, more in the sandbox; a
# workflow task must finish well inside the SDK's 2 s deadlock limit whatever arrived in it.
SIGNALS_READ_PER_ACTIVATION = 200
# Refused signals logged one by one per workflow task (each line costs ~0.6 ms).
SIGNALS_LOGGED_PER_ACTIVATION = 5
# Signals left to read are read in the next workflow task, whatever brings it (the batch's own
# write completing, usually); a timer this long makes sure one comes (the dev server fires
# timers on a ~1 s tick).
BACKLOG_PAUSE = timedelta(milliseconds=100)
# Temporal refuses the 2,001st update of a run; each accepted one is two events and replays
# on every cache miss. A fresh run long before either.
UPDATES_PER_RUN = 1_000
# Temporal suggests continuing at 4,000 events / 4 MB by default; our own ceilings, for servers
# that suggest later (or never: the time-skipping test server).
BOUNDED_EVENTS_PER_RUN = 4_000
BOUNDED_BYTES_PER_RUN = 4 * 1024 * 1024
# Past these the run is in danger of Temporal's hard limits (51,200 events, 50 MB: the server
# terminates the workflow): signals still waiting are counted unread rather than read, so the
# run can continue as new the moment the flood pauses.
EMERGENCY_EVENTS_PER_RUN = 20_000
EMERGENCY_BYTES_PER_RUN = 20 * 1024 * 1024
