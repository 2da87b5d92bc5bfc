from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sales.tokens import (
    SigningKey,
    SigningKeyLocked,
    TicketClaims,
    TicketInvalid,
    is_sealed,
    new_signing_key,
    open_private_pem,
    private_key,
    qr_png,
    qr_svg,
    seal_private_pem,
    sign_ticket,
    verify_ticket,
)

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def _claims(**changes: object) -> TicketClaims:
    base = TicketClaims(
        ticket_id="5b1c0f5e-1111-4222-8333-944455556666",
        operator_id="kuopion-liikenne",
        product_id="kuopion-liikenne:single_ab",
        rider_category="kuopion-liikenne:adult",
        valid_from=NOW,
        valid_until=NOW + timedelta(minutes=90),
        booking_ref="bk-1",
        zones=("kuopion-liikenne:A", "kuopion-liikenne:B"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_signed_ticket_verifies_offline_with_the_public_key() -> None:
    key = new_signing_key("kuopion-liikenne")
    token = sign_ticket(_claims(), key, NOW)
    claims = verify_ticket(token, {"keys": [key.public_jwk]}, NOW + timedelta(minutes=5))
    assert claims == _claims()
    assert "d" not in key.public_jwk  # the private half is never published


def test_a_key_is_parsed_once_however_many_tickets_it_signs() -> None:
    key = new_signing_key("kuopion-liikenne")
    before = private_key.cache_info()
    tokens = [sign_ticket(_claims(ticket_id=f"t-{i}"), key, NOW) for i in range(3)]
    after = private_key.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
    for i, token in enumerate(tokens):
        claims = verify_ticket(token, {"keys": [key.public_jwk]}, NOW)
        assert claims.ticket_id == f"t-{i}"


def test_tampered_ticket_fails_with_bad_signature() -> None:
    key = new_signing_key("kuopion-liikenne")
    header, _payload, signature = sign_ticket(_claims(), key, NOW).split(".")
    other = sign_ticket(_claims(zones=("kuopion-liikenne:A", "kuopion-liikenne:C")), key, NOW)
    forged = f"{header}.{other.split('.')[1]}.{signature}"
    with pytest.raises(TicketInvalid) as err:
        verify_ticket(forged, {"keys": [key.public_jwk]}, NOW)
    assert err.value.reason == "bad_signature"


def test_expired_ticket_fails_as_expired() -> None:
    key = new_signing_key("kuopion-liikenne")
    token = sign_ticket(_claims(), key, NOW)
    with pytest.raises(TicketInvalid) as err:
        verify_ticket(token, {"keys": [key.public_jwk]}, NOW + timedelta(hours=2))
    assert err.value.reason == "expired"


def test_ticket_of_an_unknown_key_fails_as_unknown_key() -> None:
    token = sign_ticket(_claims(), new_signing_key("kuopion-liikenne"), NOW)
    other = new_signing_key("kuopion-liikenne")
    with pytest.raises(TicketInvalid) as err:
        verify_ticket(token, {"keys": [other.public_jwk]}, NOW)
    assert err.value.reason == "unknown_key"


def test_garbage_fails_as_malformed() -> None:
    key = new_signing_key("x-operator")
    with pytest.raises(TicketInvalid) as err:
        verify_ticket("not.a.token", {"keys": [key.public_jwk]}, NOW)
    assert err.value.reason == "malformed"


def test_qr_codes_carry_the_token() -> None:
    token = sign_ticket(_claims(), new_signing_key("kuopion-liikenne"), NOW)
    assert qr_png(token).startswith(b"\x89PNG")
    svg = qr_svg(token)
    assert svg.startswith("<svg")
    assert "path" in svg


def test_a_sealed_key_opens_only_with_its_secret() -> None:
    key = new_signing_key("kuopion-liikenne")
    sealed = seal_private_pem(key.private_pem, b"a secret of sixteen+")
    assert is_sealed(sealed)
    assert not is_sealed(key.private_pem)
    assert open_private_pem(key.private_pem, None) == key.private_pem  # stored in clear
    opened = open_private_pem(sealed, b"a secret of sixteen+")
    token = sign_ticket(
        _claims(), SigningKey(key.kid, "kuopion-liikenne", opened, key.public_jwk), NOW
    )
    assert verify_ticket(token, {"keys": [key.public_jwk]}, NOW) == _claims()
    with pytest.raises(SigningKeyLocked, match="MAAS_SIGNING_KEY_SECRET"):
        open_private_pem(sealed, None)
    with pytest.raises(SigningKeyLocked, match="does not open"):
        open_private_pem(sealed, b"another secret, wrong")


def test_a_ticket_signed_with_another_operators_key_fails_as_wrong_issuer() -> None:
    own, other = new_signing_key("kuopion-liikenne"), new_signing_key("pohjolan-liikenne")
    # A key whose holder claims to be another operator: the JWKS says whose key it is.
    forged_key = SigningKey(other.kid, "kuopion-liikenne", other.private_pem, other.public_jwk)
    forged = sign_ticket(_claims(), forged_key, NOW)
    jwks = {"keys": [own.public_jwk, other.public_jwk]}
    with pytest.raises(TicketInvalid) as err:
        verify_ticket(forged, jwks, NOW)
    assert err.value.reason == "wrong_issuer"
    assert "pohjolan-liikenne" in err.value.detail
    assert verify_ticket(sign_ticket(_claims(), own, NOW), jwks, NOW) == _claims()


def test_a_key_that_names_no_owner_verifies_no_ticket() -> None:
    key = new_signing_key("kuopion-liikenne")
    anonymous = {k: v for k, v in key.public_jwk.items() if k != "iss"}
    with pytest.raises(TicketInvalid) as err:
        verify_ticket(sign_ticket(_claims(), key, NOW), {"keys": [anonymous]}, NOW)
    assert err.value.reason == "wrong_issuer"


def test_the_published_key_names_its_operator() -> None:
    assert new_signing_key("kuopion-liikenne").public_jwk["iss"] == "kuopion-liikenne"


def test_a_key_signs_only_its_own_operators_tickets() -> None:
    with pytest.raises(ValueError, match="pohjolan-liikenne"):
        sign_ticket(_claims(), new_signing_key("pohjolan-liikenne"), NOW)
