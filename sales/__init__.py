"""Selling tickets: fares, offers, two-phase bookings, tickets and their signing keys."""
