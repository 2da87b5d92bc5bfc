"""Examples of request and response bodies for the OpenAPI document, by model name.

Kept apart from the models so that they stay readable; a test validates every example
against its model, so an example cannot drift from what the gateway accepts or answers.
"""

from __future__ import annotations

from typing import Any

_STOP = "kuopion-liikenne:201804"
_TO_STOP = "kuopion-liikenne:201666"
_TRIP = "kuopion-liikenne:20_1_0816"
_OFFER_ID = "9b2f6c1e-8a4d-4f0e-b6a1-3c5d7e9f1a2b"
_TICKET_ID = "c0a8e4b2-1d3f-4e5a-8b7c-9d0e1f2a3b4c"
_DEPARTURE, _ARRIVAL = "2026-12-03T08:16:00+02:00", "2026-12-03T08:34:00+02:00"
_VALID_UNTIL = "2026-12-03T09:46:00+02:00"

_TEATTERIKULMA = {
    "name": "Teatterikulma I",
    "lat": 62.89259,
    "lon": 27.667592,
    "stop_id": _STOP,
    "operator_id": "kuopion-liikenne",
}
_PAIVARANTA = {
    "name": "Päiväranta E",
    "lat": 62.91792,
    "lon": 27.69351,
    "stop_id": _TO_STOP,
    "operator_id": "kuopion-liikenne",
}
_CONDITIONS = {"cancellable": True, "refundable_until": _DEPARTURE, "refund_fee_minor": 0}

_OFFER = {
    "id": _OFFER_ID,
    "kind": "itinerary",
    "legs": [
        {
            "position": 0,
            "operator_id": "kuopion-liikenne",
            "product_id": "kuopion-liikenne:single",
            "product_name": "Single ticket",
            "rider_categories": ["adult"],
            "price_minor": 330,
            "currency": "EUR",
            "valid_from": _DEPARTURE,
            "valid_until": _VALID_UNTIL,
            "conditions": _CONDITIONS,
            "trip_id": _TRIP,
            "service_date": "2026-12-03",
            "route_id": "kuopion-liikenne:20",
            "from_stop_id": _STOP,
            "to_stop_id": _TO_STOP,
            "zones": ["A"],
        }
    ],
    "travellers": [{"rider_category": "adult"}],
    "total_minor": 330,
    "currency": "EUR",
    "valid_until": "2026-12-03T08:20:00+02:00",
}

_TICKET = {
    "id": _TICKET_ID,
    "operator_id": "kuopion-liikenne",
    "kid": "kuopion-liikenne-2026-11",
    "token": "eyJhbGciOiJFZERTQSIsImtpZCI6Imt1b3Bpb24tbGlpa2VubmUtMjAyNi0xMSJ9.e30.c2ln",
    "valid_from": _DEPARTURE,
    "valid_until": _VALID_UNTIL,
    "status": "VALID",
    "qr_png_url": f"/v1/tickets/{_TICKET_ID}/qr.png",
    "qr_svg_url": f"/v1/tickets/{_TICKET_ID}/qr.svg",
}

_JOURNEY = {
    "id": "j-2026-12-03-0816-20",
    "departure": _DEPARTURE,
    "arrival": _ARRIVAL,
    "duration_s": 1080,
    "transfers": 0,
    "legs": [
        {
            "mode": "transit",
            "operator_id": "kuopion-liikenne",
            "route_id": "kuopion-liikenne:20",
            "route_short_name": "20",
            "route_long_name": "Tori - Päiväranta",
            "route_type": 3,
            "trip_id": _TRIP,
            "headsign": "Päiväranta E",
            "from_place": _TEATTERIKULMA,
            "to_place": _PAIVARANTA,
            "departure": _DEPARTURE,
            "arrival": _ARRIVAL,
            "duration_s": 1080,
            "intermediate_stops": [],
            "geometry": [[62.89259, 27.667592], [62.91792, 27.69351]],
            "stay_seated": False,
            "realtime": False,
        }
    ],
    "offer": _OFFER,
}

#: Examples by the name of the model they are of.
EXAMPLES: dict[str, dict[str, Any]] = {
    "KeyCreate": {"role": "maas", "name": "whim-fi"},
    "WebhookCreate": {
        "url": "https://hooks.whim.example/maas-gateway",
        "events": ["booking.*", "ticket.issued"],
    },
    "OperatorEventBody": {"operation": "COMMIT"},
    "OperatorCreate": {
        "id": "saaristo-lautat",
        "name": "Saaristolautat Oy",
        "timezone": "Europe/Helsinki",
        "sales_channel": "hosted",
    },
    "OfferCreate": {
        "itinerary": {
            "legs": [
                {
                    "trip_id": _TRIP,
                    "service_date": "2026-12-03",
                    "from_stop_id": _STOP,
                    "to_stop_id": _TO_STOP,
                }
            ]
        },
        "travellers": [{"rider_category": "adult"}],
    },
    "OperatorConditions": {
        "all_products": {
            "cancellable": True,
            "refundable": True,
            "refundable_before_min": 60,
            "refund_fee_minor": 100,
        },
        "products": {
            "day": {"sold_alone": True, "validity_min": 1440},
            "single-1": {"refundable": False},
        },
    },
    "BookingCreate": {"offer_ids": [_OFFER_ID], "travellers": [{"rider_category": "adult"}]},
    "CapacitySet": {"seats_total": 48, "trip_id": _TRIP, "service_date": "2026-12-03"},
    "SourcesIn": {
        "vehicle_positions_url": "https://data.example.fi/gtfs-rt/vehicle-positions.pb",
        "poll_interval_s": 15,
    },
    "Health": {"status": "ok"},
    "Ready": {"status": "ok", "postgres": "ok", "redis": "ok", "timetable": "ok"},
    "Me": {"prefix": "mk_maas_Ab3dE6gH", "role": "maas", "name": "whim-fi", "tenant_id": "whim-fi"},
    "KeyCreated": {
        "key": "mk_maas_Ab3dE6gH_9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "prefix": "mk_maas_Ab3dE6gH",
        "role": "maas",
    },
    "OperatorOut": {
        "id": "kuopion-liikenne",
        "name": "Kuopion Liikenne",
        "timezone": "Europe/Helsinki",
        "sales_channel": "hosted",
        "created_at": "2026-11-30T09:12:44+00:00",
    },
    "StopList": {
        "items": [
            {
                "id": _STOP,
                "operator_id": "kuopion-liikenne",
                "name": "Teatterikulma I",
                "lat": 62.89259,
                "lon": 27.667592,
                "zone_id": "A",
                "wheelchair_boarding": 0,
                "distance_m": 41.2,
            }
        ],
        "next_cursor": "MjA",
    },
    "Departures": {
        "stop_id": _STOP,
        "items": [
            {
                "trip_id": _TRIP,
                "route_id": "kuopion-liikenne:20",
                "route_short_name": "20",
                "headsign": "Päiväranta E",
                "operator_id": "kuopion-liikenne",
                "stop_id": _STOP,
                "service_day": "2026-12-03",
                "scheduled_at": _DEPARTURE,
                "expected_at": "2026-12-03T08:18:00+02:00",
                "delay_s": 120,
                "cancelled": False,
                "realtime": True,
                "wheelchair_accessible": 1,
            }
        ],
    },
    "JourneyList": {"items": [_JOURNEY]},
    "Offer": _OFFER,
    "Booking": {
        "id": "3f1c9a7e-52b4-4d8a-9e0f-6b2a1c4d8e73",
        "status": "CONFIRMED",
        "offer_ids": [_OFFER_ID],
        "legs": [
            {
                "position": 0,
                "operator_id": "kuopion-liikenne",
                "status": "CONFIRMED",
                "price_minor": 330,
                "currency": "EUR",
                "product_id": "kuopion-liikenne:single",
                "valid_from": _DEPARTURE,
                "valid_until": _VALID_UNTIL,
                "ticket": _TICKET,
            }
        ],
        "travellers": [{"rider_category": "adult"}],
        "total_minor": 330,
        "currency": "EUR",
        "expires_at": "2026-12-03T08:20:00+02:00",
        "created_at": "2026-12-03T08:05:12+02:00",
        "updated_at": "2026-12-03T08:05:40+02:00",
    },
    "ReleaseCreate": {
        "period": "2026-11",
        "zone_system": "fare-zones",
        "bucket": "hour",
        "breakdown": ["operator"],
        "epsilon": 0.5,
    },
    "DistrictsCreate": {
        "id": "kuopio-districts",
        "name": "Kuopio districts",
        "geojson": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "centre",
                    "properties": {"name": "Centre"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [27.6, 62.88],
                                [27.7, 62.88],
                                [27.7, 62.9],
                                [27.6, 62.9],
                                [27.6, 62.88],
                            ]
                        ],
                    },
                }
            ],
        },
    },
}
