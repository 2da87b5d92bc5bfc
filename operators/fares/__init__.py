"""GTFS Fares v2: load and validate an operator's fares, price itineraries, list products.

Pure: functions take bytes or data and return data. Ids are namespaced by operator
(`operator:original_id`), like stops and routes in the rest of the gateway.
"""

from operators.fares.catalogue import (
    CatalogueProduct,
    ProductPrice,
    get_product_price,
    list_catalogue,
)
from operators.fares.engine import FareCharge, ItineraryPrice, LegPrice, price_itinerary
from operators.fares.loader import load_fares, load_fares_files
from operators.fares.matching import Leg
from operators.fares.model import (
    FareError,
    FareFeed,
    FareIssue,
    FaresValidationError,
    NoFareError,
)

__all__ = [
    "CatalogueProduct",
    "FareCharge",
    "FareError",
    "FareFeed",
    "FareIssue",
    "FaresValidationError",
    "ItineraryPrice",
    "Leg",
    "LegPrice",
    "NoFareError",
    "ProductPrice",
    "get_product_price",
    "list_catalogue",
    "load_fares",
    "load_fares_files",
    "price_itinerary",
]
