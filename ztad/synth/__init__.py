"""Synthetic authentication logs with labelled attacks and hard negatives (``ztad generate``).

A realistic organisation (departments with their own applications, offices and home towns in
real cities and time zones, day, night and weekend shifts, one to three devices each, office,
home, mobile and VPN networks) goes about its work; innocent oddities (business travel with
real flight times, VPN egress in another city, new employees, new laptops, on-call nights,
month-end reports, a password rotation, evening work, café Wi-Fi, renewed home lines) stay
``normal`` and are marked in ``scenario``; after a clean history, attacks are injected at about
1 % of events, labelled in ``event_label`` and numbered in ``attack_id`` (one id per attack).
:func:`ztad.synth.origin_shape.generate_origin_shaped` draws a set shaped like the origin data
set's from such a world (``ztad generate --shape origin``).

Public API
----------
:func:`generate`
    Write logs to disk and return a :class:`GenerateSummary`.
:func:`generate_events`
    The same events as one DataFrame, without any I/O.
:func:`build_world`, :func:`day_frame`, :func:`iter_day_frames`, :func:`iter_day_chunks`
    Day-by-day access for large periods (each day is a pure function of world and date), a
    large day in chunks of events.
:func:`network_table`
    The address plan (city and network kind of every generated address block).
"""

from ztad.synth.events import ATTACK_CATEGORIES, COMBINED_ATTACKS, LABELS, SCENARIOS
from ztad.synth.networks import network_table
from ztad.synth.table import OUTPUT_COLUMNS
from ztad.synth.world import (
    GeneratorSettings,
    GeneratorSettingsError,
    World,
    build_world,
    day_frame,
    generate_events,
    iter_day_chunks,
    iter_day_frames,
)
from ztad.synth.writer import FORMATS, LAYOUTS, GenerateSummary, generate

__all__ = [
    "ATTACK_CATEGORIES",
    "COMBINED_ATTACKS",
    "FORMATS",
    "GenerateSummary",
    "GeneratorSettings",
    "GeneratorSettingsError",
    "LABELS",
    "LAYOUTS",
    "OUTPUT_COLUMNS",
    "SCENARIOS",
    "World",
    "build_world",
    "day_frame",
    "generate",
    "generate_events",
    "iter_day_chunks",
    "iter_day_frames",
    "network_table",
]
