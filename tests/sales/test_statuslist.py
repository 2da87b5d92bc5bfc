"""Status list tokens as the IETF OAuth Token Status List draft has them (no database)."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from sales.statuslist import (
    STATUS_LIST_TYPE,
    StatusListInvalid,
    check_revocation,
    decode_lst,
    encode_lst,
    pack_bits,
    read_status_list,
    sign_status_list,
)
from sales.tokens import StatusRef, TicketClaims, TicketInvalid, new_signing_key, sign_ticket

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
URI = "https://gateway.example/v1/status-lists/kuopion-liikenne"


def _ticket(idx: int, uri: str = URI, operator_id: str = "kuopion-liikenne") -> TicketClaims:
    return TicketClaims(
        "t-1", operator_id, "day", "adult", NOW, NOW + timedelta(hours=1), "b-1",
        status=StatusRef(idx, uri),
    )  # fmt: skip


def test_bits_and_compression_match_the_drafts_example() -> None:
    # draft-ietf-oauth-status-list, section 4.1: 16 one-bit statuses.
    statuses = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    bits = pack_bits((i for i, s in enumerate(statuses) if s), len(statuses))
    assert bits == bytes([0xB9, 0xA3])
    assert encode_lst(bits) == "eNrbuRgAAhcBXQ"
    assert decode_lst("eNrbuRgAAhcBXQ") == bits


def test_a_list_that_inflates_too_far_is_refused() -> None:
    with pytest.raises(StatusListInvalid, match="inflates"):
        decode_lst(encode_lst(bytes(1024 * 1024)), max_bytes=1024)


def test_a_signed_list_says_which_tickets_are_revoked() -> None:
    key = new_signing_key("kuopion-liikenne")
    token = sign_status_list(key, URI, pack_bits([3, 9], 16), NOW, valid_s=86400, ttl_s=300)
    assert token.count(".") == 2
    listed = read_status_list(token, {"keys": [key.public_jwk]}, NOW + timedelta(hours=1))
    assert (listed.uri, listed.issuer) == (URI, "kuopion-liikenne")
    assert [i for i in range(16) if listed.is_revoked(i)] == [3, 9]
    check_revocation(_ticket(4), listed)
    with pytest.raises(TicketInvalid) as err:
        check_revocation(_ticket(9), listed)
    assert err.value.reason == "revoked"


def test_a_list_is_not_used_past_its_expiry_nor_past_its_end() -> None:
    key = new_signing_key("kuopion-liikenne")
    token = sign_status_list(key, URI, pack_bits([], 16), NOW, valid_s=3600, ttl_s=300)
    jwks = {"keys": [key.public_jwk]}
    with pytest.raises(StatusListInvalid, match="expired"):
        read_status_list(token, jwks, NOW + timedelta(hours=1))
    listed = read_status_list(token, jwks, NOW)
    with pytest.raises(StatusListInvalid, match="past the end"):
        check_revocation(_ticket(16), listed)


def test_another_operators_list_cannot_clear_a_ticket() -> None:
    own, other = new_signing_key("kuopion-liikenne"), new_signing_key("pohjolan-liikenne")
    jwks = {"keys": [own.public_jwk, other.public_jwk]}
    # Signed by the other operator, under the ticket's own URI: not the ticket's list.
    forged = sign_status_list(other, URI, pack_bits([], 16), NOW, 86400, 300)
    with pytest.raises(StatusListInvalid, match="pohjolan-liikenne"):
        check_revocation(_ticket(0), read_status_list(forged, jwks, NOW))
    elsewhere = sign_status_list(own, URI + "-old", pack_bits([], 16), NOW, 86400, 300)
    with pytest.raises(StatusListInvalid, match="not in"):
        check_revocation(_ticket(0), read_status_list(elsewhere, jwks, NOW))


def test_a_ticket_is_not_a_status_list() -> None:
    key = new_signing_key("kuopion-liikenne")
    ticket = sign_ticket(_ticket(0), key, NOW)
    with pytest.raises(StatusListInvalid, match=re.escape(STATUS_LIST_TYPE)):
        read_status_list(ticket, {"keys": [key.public_jwk]}, NOW)


def test_a_ticket_names_its_place_in_the_status_list() -> None:
    key = new_signing_key("kuopion-liikenne")
    claims = _ticket(41).to_jwt(NOW)
    assert claims["status"] == {"status_list": {"idx": 41, "uri": URI}}
    assert TicketClaims.from_jwt(claims) == _ticket(41)
    assert sign_ticket(_ticket(41), key, NOW)
