"""Words the console shows for identifiers (`label`), marked for the catalogues.

`label` turns an identifier into English words (`pi_review` → `pi review`) and then into the
reader's language; the extractor cannot see words made at run time, so each is listed here.
tests/console/test_catalogues.py fails when an enum gains a value whose label is not here.
"""

from __future__ import annotations

from cellpath.console.i18n import N_

TERMS = (
    # Phases
    N_("intake"),  # Phase.INTAKE
    N_("pre assessment"),  # Phase.PRE_ASSESSMENT
    N_("pi review"),  # Phase.PI_REVIEW
    N_("logistics"),  # Phase.LOGISTICS
    N_("arrival"),  # Phase.ARRIVAL
    N_("collection"),  # Phase.COLLECTION
    N_("manufacturing"),  # Phase.MANUFACTURING
    N_("conditioning"),  # Phase.CONDITIONING
    N_("infusion"),  # Phase.INFUSION
    N_("monitoring"),  # Phase.MONITORING
    N_("follow up"),  # Phase.FOLLOW_UP
    N_("closed"),  # Phase.CLOSED
    # Outcomes
    N_("completed"),  # Outcome.COMPLETED
    N_("withdrawn"),  # Outcome.WITHDRAWN
    N_("ineligible"),  # Outcome.INELIGIBLE
    N_("declined"),  # Outcome.DECLINED
    N_("not cleared"),  # Outcome.NOT_CLEARED
    N_("manufacturing failed"),  # Outcome.MANUFACTURING_FAILED
    N_("died"),  # Outcome.DIED
    # Severities
    N_("info"),  # Severity.INFO
    N_("warning"),  # Severity.WARNING
    N_("urgent"),  # Severity.URGENT
    N_("critical"),  # Severity.CRITICAL
    # Alert kinds
    N_("crs"),  # AlertKind.CRS
    N_("icans"),  # AlertKind.ICANS
    N_("gvhd"),  # AlertKind.GVHD
    N_("hlh like"),  # AlertKind.HLH_LIKE
    N_("protocol deviation"),  # AlertKind.PROTOCOL_DEVIATION
    N_("deadline breached"),  # AlertKind.DEADLINE_BREACHED
    N_("visa validity short"),  # AlertKind.VISA_VALIDITY_SHORT
    N_("neutropenic fever"),  # AlertKind.NEUTROPENIC_FEVER
    N_("tumour lysis"),  # AlertKind.TUMOUR_LYSIS
    N_("infusion reaction"),  # AlertKind.INFUSION_REACTION
    N_("prolonged cytopenia"),  # AlertKind.PROLONGED_CYTOPENIA
    N_("low IgG"),  # AlertKind.LOW_IGG
    N_("relapse"),  # AlertKind.RELAPSE
    N_("serious adverse event"),  # AlertKind.SERIOUS_ADVERSE_EVENT
    N_("family symptom"),  # AlertKind.FAMILY_SYMPTOM
    N_("temperature excursion"),  # AlertKind.TEMPERATURE_EXCURSION
    # Products and programs
    N_("autologous"),  # CellSource.AUTOLOGOUS
    N_("allogeneic"),  # CellSource.ALLOGENEIC
    N_("trial"),  # Program.TRIAL
    N_("hospital"),  # Program.HOSPITAL
    # The bedside form's choices
    N_("none"),  # OxygenDevice.NONE
    N_("low flow nasal cannula"),  # OxygenDevice.LOW_FLOW_NASAL_CANNULA
    N_("blow by"),  # OxygenDevice.BLOW_BY
    N_("high flow nasal cannula"),  # OxygenDevice.HIGH_FLOW_NASAL_CANNULA
    N_("face mask"),  # OxygenDevice.FACE_MASK
    N_("non rebreather"),  # OxygenDevice.NON_REBREATHER
    N_("venturi"),  # OxygenDevice.VENTURI
    N_("cpap"),  # OxygenDevice.CPAP
    N_("bipap"),  # OxygenDevice.BIPAP
    N_("mechanical ventilation"),  # OxygenDevice.MECHANICAL_VENTILATION
    N_("awake"),  # Consciousness.AWAKE
    N_("awakens spontaneously"),  # Consciousness.AWAKENS_SPONTANEOUSLY
    N_("awakens to voice"),  # Consciousness.AWAKENS_TO_VOICE
    N_("awakens to touch"),  # Consciousness.AWAKENS_TO_TOUCH
    N_("unarousable"),  # Consciousness.UNAROUSABLE
    N_("resolved rapidly"),  # Seizure.RESOLVED_RAPIDLY
    N_("prolonged or repeated"),  # Seizure.PROLONGED_OR_REPEATED
    N_("focal"),  # CerebralEdema.FOCAL
    N_("diffuse"),  # CerebralEdema.DIFFUSE
)
