"""Pure domain of cellpath: payloads, protocol presets, calendar, deadlines and pathway rules.

Nothing in this package performs I/O at import time, so workflows may import it through
`workflow.unsafe.imports_passed_through()`.
"""
