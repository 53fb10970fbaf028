"""Generated events as parallel integer arrays, and their labels and scenario markers.

Events are built, filtered and joined as arrays of codes (user, device, city and resource
positions, integer addresses, Unix seconds) and turned into strings only once, when a day is
handed out as a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: Single attack categories, as they appear in ``event_label``.
ATTACK_CATEGORIES: tuple[str, ...] = (
    "impossible_travel",
    "off_hours_login",
    "multiple_failed_logins",
    "password_spray",
    "large_data_transfer",
    "unusual_resource_access",
    "new_device",
)
#: Attacks that are several categories at once (each part counts for its category).
COMBINED_ATTACKS: tuple[str, ...] = (
    "impossible_travel+large_data_transfer",
    "impossible_travel+new_device",
    "new_device+large_data_transfer",
    "new_device+unusual_resource_access",
    "off_hours_login+large_data_transfer",
    "off_hours_login+unusual_resource_access",
    "multiple_failed_logins+new_device",
)
LABELS: tuple[str, ...] = ("normal",) + ATTACK_CATEGORIES + COMBINED_ATTACKS
NORMAL = 0

#: Hard negatives: normal events that look unusual for an innocent reason. "" marks the rest.
SCENARIOS: tuple[str, ...] = (
    "", "business_travel", "vpn", "new_employee", "new_laptop", "on_call", "month_end",
    "password_rotation", "evening_work", "cafe_wifi", "new_home_ip",
)
(NO_SCENARIO, BUSINESS_TRAVEL, VPN, NEW_EMPLOYEE, NEW_LAPTOP, ON_CALL, MONTH_END, PASSWORD_ROTATION,
 EVENING_WORK, CAFE_WIFI, NEW_HOME_IP) = range(len(SCENARIOS))
#: ``attack`` of a normal event.
NO_ATTACK = -1


def label_code(label: str) -> int:
    """Position of ``label`` in :data:`LABELS`."""
    return LABELS.index(label)


@dataclass
class EventArrays:
    """Events as parallel arrays of equal length.

    ``device`` indexes the device-name table of the day (organisation devices, then new
    laptops, then attackers' devices); ``city`` and ``resource`` index the world map and the
    application catalogue; ``ip`` is an integer IPv4 address; ``time`` is Unix seconds (UTC);
    ``attack`` is the campaign an attack event belongs to (its row in the attack plan, so one
    number per attack over the whole period) and :data:`NO_ATTACK` for normal events.
    """

    user: np.ndarray
    time: np.ndarray
    device: np.ndarray
    ip: np.ndarray
    city: np.ndarray
    resource: np.ndarray
    bytes: np.ndarray
    success: np.ndarray
    label: np.ndarray
    scenario: np.ndarray
    attack: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    def take(self, selector) -> "EventArrays":
        """The events picked by a boolean mask or an index array, in that order."""
        return EventArrays(**{f.name: getattr(self, f.name)[selector] for f in fields(self)})

    @staticmethod
    def concat(parts: list["EventArrays"]) -> "EventArrays":
        """All events of ``parts``, one after the other."""
        return EventArrays(**{
            f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(EventArrays)
        })

    @staticmethod
    def empty() -> "EventArrays":
        """No events, with the dtypes every part uses."""
        return EventArrays(
            user=np.zeros(0, np.int64), time=np.zeros(0, np.int64), device=np.zeros(0, np.int64),
            ip=np.zeros(0, np.int64), city=np.zeros(0, np.int64), resource=np.zeros(0, np.int64),
            bytes=np.zeros(0, np.int64), success=np.zeros(0, bool), label=np.zeros(0, np.int64),
            scenario=np.zeros(0, np.int64), attack=np.zeros(0, np.int64),
        )

    def sorted_by_time(self) -> "EventArrays":
        """Events in time order (ties by user, then as they come), as logs are written."""
        return self.take(self._time_order())

    def sort_by_time(self) -> None:
        """Put the events in the order of :meth:`sorted_by_time` in place, one array at a
        time, so that a large day is never held twice."""
        order = self._time_order()
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name)[order])

    def _time_order(self) -> np.ndarray:
        users = int(self.user.max()) + 1 if len(self.user) else 1
        return np.argsort(self.time * users + self.user, kind="stable")
