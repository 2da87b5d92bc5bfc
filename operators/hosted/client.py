"""No wire format: the hosted adapter calls nobody (the file keeps every adapter's layout)."""
