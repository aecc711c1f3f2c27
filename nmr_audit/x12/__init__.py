"""X12 interchanges as the audit reads them: 837P claims (005010X222A1/A2) and 835 remittances
(005010X221A1). `envelope` streams and checks an interchange; `claims_837` and `remits_835` map
their loops to the contract's columns; `match` joins remittances to claim lines.
"""
