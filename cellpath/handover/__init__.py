"""The hand-over to the home team: the FHIR bundle (`fhir`) and the family's calendar (`ics`).

Pure builders: they take what the services read (status, timeline, observations, identity)
and return documents. Nothing here reads a store or talks to Temporal.
"""
