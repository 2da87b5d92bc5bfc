"""`hosted`: the gateway is the sales system of an operator that has no back-end of its own."""

from operators.adapter import AdapterSpec

SPEC = AdapterSpec(id="hosted", name="Hosted by the gateway")
