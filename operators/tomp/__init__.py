"""`tomp`: the operator runs a back-end that speaks TOMP-API 1.6.1 bookings."""

from operators.adapter import AdapterSpec

SPEC = AdapterSpec(id="tomp", name="TOMP-API 1.6.1 back-end")
