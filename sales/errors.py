"""What can go wrong in a sale, in the sales domain's words; each error has a stable `code`.

The gateway maps each class to an HTTP status in one table (`gateway/problems.py`);
nothing here knows HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SalesError(Exception):
    """A sale that cannot go on; `detail` says why, in words a developer can act on."""

    code: ClassVar[str] = "sales_error"
    title: ClassVar[str] = "The sale cannot go on"
    #: False when a retry may succeed (an operator was down): the outcome is not replayed.
    final: ClassVar[bool] = True
    by_code: ClassVar[dict[str, type[SalesError]]] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        #: True when this is an idempotent replay of an earlier request's outcome.
        self.replayed = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:  # a subclass that only signals (no code of its own) is no kind
            SalesError.by_code.setdefault(cls.code, cls)

    def as_record(self) -> dict[str, Any]:
        """Return the error as JSON, to be replayed by `from_record`."""
        return {"code": self.code, "title": self.title, "detail": self.detail, **self.extra}

    @staticmethod
    def from_record(record: dict[str, Any]) -> SalesError:
        """Rebuild an error stored with `as_record` (an idempotent replay)."""
        fields = {k: v for k, v in record.items() if k not in ("code", "title", "detail")}
        cls = SalesError.by_code.get(str(record.get("code")), SalesError)
        return cls(str(record.get("detail", "")), **fields)


class NotFound(SalesError):
    """An object that does not exist, or belongs to someone else."""

    code = "not_found"
    title = "Not found"

    @classmethod
    def of(cls, what: str, ident: str) -> NotFound:
        """Return the error for the `what` called `ident`."""
        return cls(f"{what} {ident!r} does not exist")


class NoFares(SalesError):
    """The operator publishes no fares."""

    code = "no_fares"
    title = "No fares"


class NoFare(SalesError):
    """No fare rule prices what was asked."""

    code = "no_fare"
    title = "No fare applies"


class NotASequence(SalesError):
    """Itinerary legs that are not a sequence in time: one leg twice, or one leaving too early."""

    code = "itinerary_not_a_sequence"
    title = "Legs out of sequence"


class ConnectionMissed(SalesError):
    """Realtime says a leg now arrives after the next one leaves: the journey no longer works."""

    code = "connection_missed"
    title = "Connection missed"


class Departed(SalesError):
    """A leg that has already left."""

    code = "departed"
    title = "Already departed"


class ValidFromPast(SalesError):
    """A product whose validity would start in the past."""

    code = "valid_from_past"
    title = "Validity in the past"


class InvalidReportPeriod(SalesError):
    """A sales report asked for a period that ends before it starts, or is too long."""

    code = "invalid_report_period"
    title = "Invalid report period"


class TripNotRunning(SalesError):
    """A trip that does not run on the service date asked for."""

    code = "trip_not_running"
    title = "The trip does not run that day"


class TripCancelled(SalesError):
    """A trip run that realtime says is cancelled."""

    code = "trip_cancelled"
    title = "The trip is cancelled"


class StopsNotOnTrip(SalesError):
    """Stops the trip does not serve in that order (board before alight)."""

    code = "stops_not_on_trip"
    title = "The trip does not serve these stops"


class NotSoldAlone(SalesError):
    """A product the operator does not sell on its own (a transfer discount, a free one)."""

    code = "not_sold_alone"
    title = "Not sold on its own"


class NotCancellable(SalesError):
    """A booking whose conditions do not allow cancelling it."""

    code = "not_cancellable"
    title = "Not cancellable"


class MixedCurrencies(SalesError):
    """Offers or legs priced in more than one currency."""

    code = "mixed_currencies"
    title = "Mixed currencies"


class InvalidBooking(SalesError):
    """A booking request that cannot be right (an offer listed twice)."""

    code = "validation_failed"
    title = "Validation failed"


class TravellersMismatch(SalesError):
    """Travellers other than those the offer was priced for."""

    code = "travellers_mismatch"
    title = "Travellers do not match"


class OfferExpired(SalesError):
    """An offer past its validity."""

    code = "offer_expired"
    title = "Offer expired"


class OfferAlreadyBooked(SalesError):
    """An offer that another booking holds."""

    code = "offer_already_booked"
    title = "Offer already booked"


class SoldOut(SalesError):
    """Not enough seats left on a departure or product."""

    code = "sold_out"
    title = "Sold out"


class CapacityBelowTaken(SalesError):
    """A seat limit below the seats already sold."""

    code = "capacity_below_taken"
    title = "Capacity below seats taken"


class BookingNotPending(SalesError):
    """Confirming a booking that is not PENDING."""

    code = "booking_not_pending"
    title = "Booking not pending"


class BookingExpired(SalesError):
    """Confirming a booking after its hold ran out."""

    code = "booking_expired"
    title = "Booking expired"


class BookingNotCancellable(SalesError):
    """Cancelling a booking its state or conditions do not let be cancelled."""

    code = "booking_not_cancellable"
    title = "Booking not cancellable"


class BookingBusy(SalesError):
    """A booking whose operators are being called (confirming, cancelling): not a second time."""

    code = "booking_busy"
    title = "Booking busy"
    final = False


class OperatorUnavailable(SalesError):
    """An operator's back-end did not answer; trying again later may succeed."""

    code = "operator_unavailable"
    title = "Operator unavailable"
    final = False


class IdempotencyKeyInProgress(SalesError):
    """A request with the same Idempotency-Key is still running."""

    code = "idempotency_key_in_progress"
    title = "Request in progress"
    final = False


class IdempotencyKeyReused(SalesError):
    """The same Idempotency-Key sent with another request."""

    code = "idempotency_key_reused"
    title = "Idempotency key reused"


class NoSigningKey(SalesError):
    """An operator with no key to sign its tickets (it was not onboarded through the gateway)."""

    code = "no_signing_key"
    title = "No signing key"
    final = False


class KeyRotationPending(SalesError):
    """A rotation while the key announced by the last one has not started signing yet."""

    code = "key_rotation_pending"
    title = "Key rotation pending"


class OperatorInvalid(SalesError):
    """An operator's onboarding details that cannot work (a back-end with no URL)."""

    code = "operator_invalid"
    title = "Operator invalid"


class OperatorEventRefused(SalesError):
    """An operator's COMMIT, DENY or CANCEL that the booking's state does not allow."""

    code = "operator_event_refused"
    title = "Event not applicable"


class PeriodAlreadyClosed(SalesError):
    """A settlement period that was closed before: its statement never changes."""

    code = "period_already_closed"
    title = "Period already closed"
