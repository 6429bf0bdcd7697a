"""Words the console shows for identifiers (`label`), marked for the catalogues.

`label` turns an identifier into English words (`pi_review` → `pi review`) and then into the
reader's language; the extractor cannot see words made at run time, so each is listed here.
tests/console/test_catalogues.py fails when an enum gains a value whose label is not here.
"""

from __future__ import annotations

from cellpath.console.i18n import N_

TERMS = (
    # Deadlines (DeadlineName) not named like a phase or a milestone
    N_("accommodation registration"),
    N_("visa extension"),
    N_("thaw to infusion"),
    N_("observation"),
    N_("stay near centre"),
    N_("no driving"),
    N_("telemedicine"),
    N_("response assessment"),
    N_("follow up completion"),
    N_("readiness"),
    N_("handover summary"),
    N_("ivig review"),
    N_("SAE report"),
    N_("re referral"),
    N_("deposit"),
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
    # Milestones (the timeline, the board, the forms)
    N_("record received"),  # MilestoneKind.RECORD_RECEIVED
    N_("records complete"),  # MilestoneKind.RECORDS_COMPLETE
    N_("eligibility assessed"),  # MilestoneKind.ELIGIBILITY_ASSESSED
    N_("submitted to pi"),  # MilestoneKind.SUBMITTED_TO_PI
    N_("pi decision"),  # MilestoneKind.PI_DECISION
    N_("cost estimate accepted"),  # MilestoneKind.COST_ESTIMATE_ACCEPTED
    N_("invitation letter issued"),  # MilestoneKind.INVITATION_LETTER_ISSUED
    N_("visa issued"),  # MilestoneKind.VISA_ISSUED
    N_("travel booked"),  # MilestoneKind.TRAVEL_BOOKED
    N_("interpreter arranged"),  # MilestoneKind.INTERPRETER_ARRANGED
    N_("accommodation booked"),  # MilestoneKind.ACCOMMODATION_BOOKED
    N_("product reserved"),  # MilestoneKind.PRODUCT_RESERVED
    N_("patient arrived"),  # MilestoneKind.PATIENT_ARRIVED
    N_("accommodation registered"),  # MilestoneKind.ACCOMMODATION_REGISTERED
    N_("pretreatment cleared"),  # MilestoneKind.PRETREATMENT_CLEARED
    N_("apheresis completed"),  # MilestoneKind.APHERESIS_COMPLETED
    N_("manufacturing started"),  # MilestoneKind.MANUFACTURING_STARTED
    N_("bridging therapy started"),  # MilestoneKind.BRIDGING_THERAPY_STARTED
    N_("product released"),  # MilestoneKind.PRODUCT_RELEASED
    N_("conditioning started"),  # MilestoneKind.CONDITIONING_STARTED
    N_("conditioning completed"),  # MilestoneKind.CONDITIONING_COMPLETED
    N_("product thawed"),  # MilestoneKind.PRODUCT_THAWED
    N_("infusion completed"),  # MilestoneKind.INFUSION_COMPLETED
    N_("discharged"),  # MilestoneKind.DISCHARGED
    N_("visa extended"),  # MilestoneKind.VISA_EXTENDED
    N_("returned home"),  # MilestoneKind.RETURNED_HOME
    N_("telemedicine completed"),  # MilestoneKind.TELEMEDICINE_COMPLETED
    N_("response assessed"),  # MilestoneKind.RESPONSE_ASSESSED
    N_("registry reported"),  # MilestoneKind.REGISTRY_REPORTED
    N_("long term check in"),  # MilestoneKind.LONG_TERM_CHECK_IN
    N_("follow up completed"),  # MilestoneKind.FOLLOW_UP_COMPLETED
    N_("consent signed"),  # MilestoneKind.CONSENT_SIGNED
    N_("consent version changed"),  # MilestoneKind.CONSENT_VERSION_CHANGED
    N_("consent withdrawn"),  # MilestoneKind.CONSENT_WITHDRAWN
    N_("readiness checked"),  # MilestoneKind.READINESS_CHECKED
    N_("handover sent"),  # MilestoneKind.HANDOVER_SENT
    N_("icu admitted"),  # MilestoneKind.ICU_ADMITTED
    N_("icu discharged"),  # MilestoneKind.ICU_DISCHARGED
    N_("adverse event"),  # MilestoneKind.ADVERSE_EVENT
    N_("SAE reported"),  # MilestoneKind.SAE_REPORTED
    N_("death"),  # MilestoneKind.DEATH
    N_("relapse detected"),  # MilestoneKind.RELAPSE_DETECTED
    N_("re referral decided"),  # MilestoneKind.RE_REFERRAL_DECIDED
    N_("translation requested"),  # MilestoneKind.TRANSLATION_REQUESTED
    N_("record translated"),  # MilestoneKind.RECORD_TRANSLATED
    N_("translation verified"),  # MilestoneKind.TRANSLATION_VERIFIED
    N_("symptom reported"),  # MilestoneKind.SYMPTOM_REPORTED
    N_("quote issued"),  # MilestoneKind.QUOTE_ISSUED
    N_("deposit received"),  # MilestoneKind.DEPOSIT_RECEIVED
    N_("payment recorded"),  # MilestoneKind.PAYMENT_RECORDED
    N_("refund issued"),  # MilestoneKind.REFUND_ISSUED
    N_("custody transferred"),  # MilestoneKind.CUSTODY_TRANSFERRED
    N_("shipment dispatched"),  # MilestoneKind.SHIPMENT_DISPATCHED
    N_("shipment received"),  # MilestoneKind.SHIPMENT_RECEIVED
    N_("qa disposition"),  # MilestoneKind.QA_DISPOSITION
    N_("slot booked"),  # MilestoneKind.SLOT_BOOKED
    N_("slot released"),  # MilestoneKind.SLOT_RELEASED
    N_("coordinator changed"),  # MilestoneKind.COORDINATOR_CHANGED
    # Where a projected date comes from (`models.pathway.projection`)
    N_("recorded"),
    N_("protocol"),
    N_("planned"),
    N_("site history"),
    N_("deadline"),
    # The measures (`cellpath.store.measures`): durations, deadlines, who received escalations
    N_("intake to eligibility"),
    N_("intake to PI decision"),
    N_("intake to arrival"),
    N_("vein to vein"),
    N_("intake to discharge"),
    N_("records"),
    N_("pi submission"),
    N_("pretreatment clearance"),
    N_("apheresis"),
    N_("infusion window"),
    N_("lead coordinator"),
    N_("medical director"),
    N_("on call physician"),
    N_("coordinator"),
    N_("product"),
    N_("site"),
    N_("program"),
    # The grades' names after a result (`case_body.html`)
    N_("neutrophils"),
    N_("anaemia"),
    N_("laboratory"),
    N_("clinical"),
    # The intake form's choices and the protocol presets
    N_("unknown"),
    N_("default"),
    N_("us label 2025"),
    N_("us rems legacy"),
    # Resource kinds and units (`models.capacity`)
    N_("bed"),
    N_("icu bed"),
    N_("day"),
    # Refusal kinds (`models.errors.RefusalCode`), shown before details not yet translated
    N_("wrong phase"),  # RefusalCode.WRONG_PHASE
    N_("wrong product"),  # RefusalCode.WRONG_PRODUCT
    N_("chain of identity"),  # RefusalCode.CHAIN_OF_IDENTITY
    N_("discharge conditions"),  # RefusalCode.DISCHARGE_CONDITIONS
    N_("follow up incomplete"),  # RefusalCode.FOLLOW_UP_INCOMPLETE
    N_("future time"),  # RefusalCode.FUTURE_TIME
    N_("out of order"),  # RefusalCode.OUT_OF_ORDER
    N_("invalid time"),  # RefusalCode.INVALID_TIME
    N_("missing field"),  # RefusalCode.MISSING_FIELD
    N_("invalid data"),  # RefusalCode.INVALID_DATA
    N_("too large"),  # RefusalCode.TOO_LARGE
    N_("undecodable"),  # RefusalCode.UNDECODABLE
    N_("already done"),  # RefusalCode.ALREADY_DONE
    N_("duplicate conflict"),  # RefusalCode.DUPLICATE_CONFLICT
    N_("unknown name"),  # RefusalCode.UNKNOWN_NAME
    N_("permission"),  # RefusalCode.PERMISSION
    N_("care team"),  # RefusalCode.CARE_TEAM
    N_("pathway rule"),  # RefusalCode.PATHWAY_RULE
    N_("over capacity"),  # RefusalCode.OVER_CAPACITY
    N_("internal"),  # RefusalCode.INTERNAL
    N_("continuing"),  # RefusalCode.CONTINUING
)
