"""What happens to money, announced in the transaction that makes it happen (blinker signals):
a workflow above fees (the accounting sync) connects at start-up and adds its own rows to the same
transaction, so its work commits, or rolls back, with the change. Fees never imports its listeners.

Each signal is sent with the school's id and the record's id as keyword arguments."""

from __future__ import annotations

from blinker import Namespace

_events = Namespace()

invoice_issued = _events.signal("invoice-issued")  # school_id, invoice_id
payment_recorded = _events.signal("payment-recorded")  # school_id, payment_id
payment_reversed = _events.signal("payment-reversed")  # school_id, payment_id
