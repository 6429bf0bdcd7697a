#!/bin/sh
# One-shot: create cellpath's namespace (with its retention) and register the search
# attributes the journeys keep current (workflows/visibility.py; CI checks the two agree).
set -eu
ns="${TEMPORAL_NAMESPACE:?}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:?}"

until temporal operator cluster health; do echo "waiting for Temporal"; sleep 2; done

temporal operator namespace describe -n "$ns" >/dev/null 2>&1 \
  || temporal operator namespace create -n "$ns" --retention "${TEMPORAL_RETENTION:?}"

# name:type, one per search attribute of cellpath
for attr in CaseId:Keyword JourneyPhase:Keyword Therapy:Keyword CellSource:Keyword \
            Program:Keyword Site:Keyword Coordinator:Keyword JourneyOutcome:Keyword \
            NextDeadlineAt:Datetime EscalationLevel:Int Overdue:Bool; do
  name="${attr%%:*}"; type="${attr##*:}"
  temporal operator search-attribute create -n "$ns" --name "$name" --type "$type" \
    || echo "search attribute $name exists"
done
echo "namespace $ns ready"
