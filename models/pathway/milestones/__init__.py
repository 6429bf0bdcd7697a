"""Every milestone kind's rule, grouped by the phase that accepts it.

Importing this package registers them all in `models.pathway.rules.RULES`.
"""

from models.pathway.milestones import (  # noqa: F401  (imported to register the rules)
    arrival,
    capacity,
    consent,
    custody,
    events,
    follow_up,
    icu,
    intake,
    logistics,
    manufacturing,
    money,
    monitoring,
    pi_review,
    records,
    team,
    treatment,
    visa,
)
