"""What the synthetic organisation is made of: departments, applications and their traffic.

Each department has its own applications on top of the ones everybody uses, so that "a
resource nobody in my department touches" is a meaningful signal. Each application has a
typical transfer size: bytes per access are log-normal around a resource-specific median.
"""

from __future__ import annotations

import numpy as np

#: name -> (median bytes per access, log-normal sigma).
RESOURCE_TRAFFIC: dict[str, tuple[float, float]] = {
    "email": (180e3, 1.0),
    "chat": (90e3, 0.9),
    "calendar": (60e3, 0.7),
    "wiki": (250e3, 0.9),
    "file-share": (6e6, 1.3),
    "vpn-gateway": (2e6, 1.2),
    "hr-portal": (300e3, 0.8),
    "git.corp": (3e6, 1.2),
    "ci-runner": (12e6, 1.1),
    "jira": (300e3, 0.8),
    "artifact-repo": (25e6, 1.2),
    "cloud-console": (500e3, 0.9),
    "erp-finance": (600e3, 0.9),
    "payroll": (400e3, 0.8),
    "treasury-portal": (350e3, 0.8),
    "crm": (450e3, 0.9),
    "sales-analytics": (2e6, 1.0),
    "recruiting-ats": (500e3, 0.8),
    "admin-console": (150e3, 0.8),
    "siem": (1.5e6, 1.0),
    "ticketing": (250e3, 0.8),
    "knowledge-base": (200e3, 0.8),
    "contract-vault": (1.5e6, 1.0),
    "legal-docs": (1e6, 1.0),
    "exec-dashboard": (800e3, 0.8),
    "board-portal": (2e6, 0.9),
    "web-cms": (700e3, 1.0),
    "design-assets": (40e6, 1.1),
}
RESOURCES: tuple[str, ...] = tuple(RESOURCE_TRAFFIC)
RESOURCE_MEDIAN_BYTES: np.ndarray = np.array([RESOURCE_TRAFFIC[r][0] for r in RESOURCES])
RESOURCE_SIGMA: np.ndarray = np.array([RESOURCE_TRAFFIC[r][1] for r in RESOURCES])


def resource_index(name: str) -> int:
    """Position of a resource in :data:`RESOURCES`."""
    return RESOURCES.index(name)


#: Applications everybody uses, with their weight in a typical day.
COMMON_RESOURCES: dict[str, float] = {
    "email": 0.30, "chat": 0.15, "calendar": 0.08, "wiki": 0.08, "file-share": 0.08,
    "vpn-gateway": 0.03, "hr-portal": 0.01,
}

#: department -> (share of staff, its own applications with their weights).
DEPARTMENTS: dict[str, tuple[float, dict[str, float]]] = {
    "engineering": (0.30, {"git.corp": 0.25, "ci-runner": 0.12, "jira": 0.15,
                           "artifact-repo": 0.06, "cloud-console": 0.05}),
    "sales": (0.15, {"crm": 0.35, "sales-analytics": 0.12, "contract-vault": 0.04}),
    "support": (0.12, {"ticketing": 0.35, "crm": 0.12, "knowledge-base": 0.18}),
    "marketing": (0.08, {"web-cms": 0.25, "design-assets": 0.10, "sales-analytics": 0.10}),
    "finance": (0.09, {"erp-finance": 0.30, "payroll": 0.08, "treasury-portal": 0.10}),
    "it": (0.10, {"admin-console": 0.20, "cloud-console": 0.12, "siem": 0.10, "ticketing": 0.18}),
    "hr": (0.06, {"hr-portal": 0.30, "payroll": 0.12, "recruiting-ats": 0.18}),
    "legal": (0.05, {"contract-vault": 0.30, "legal-docs": 0.25}),
    "executive": (0.05, {"exec-dashboard": 0.20, "board-portal": 0.08, "crm": 0.05,
                         "erp-finance": 0.04, "sales-analytics": 0.05}),
}
DEPARTMENT_NAMES: tuple[str, ...] = tuple(DEPARTMENTS)
DEPARTMENT_SHARES: np.ndarray = np.array([DEPARTMENTS[d][0] for d in DEPARTMENT_NAMES])

#: Applications whose access by an outsider to them is a finding: the targets of unusual access.
SENSITIVE_RESOURCES: tuple[str, ...] = (
    "payroll", "admin-console", "erp-finance", "treasury-portal", "exec-dashboard",
    "board-portal", "contract-vault", "siem", "recruiting-ats", "cloud-console", "legal-docs",
    "artifact-repo",
)

#: Where people log in first: the targets of password guessing.
LOGIN_PORTALS: tuple[str, ...] = ("email", "vpn-gateway")

#: Work profiles and, per department, the share of staff on each (the rest work day shifts).
PROFILES: tuple[str, ...] = ("day", "night", "weekend")
DAY, NIGHT, WEEKEND = range(len(PROFILES))
NIGHT_AND_WEEKEND_SHARES: dict[str, tuple[float, float]] = {
    "support": (0.20, 0.25),
    "it": (0.15, 0.15),
    "executive": (0.0, 0.0),
}
DEFAULT_NIGHT_AND_WEEKEND = (0.02, 0.05)

#: Activity on each weekday relative to the user's mean (Monday first): busy early in the week.
WEEKDAY_SEASONALITY: np.ndarray = np.array([1.05, 1.08, 1.05, 1.0, 0.85, 1.0, 1.0])


def department_weights() -> np.ndarray:
    """``(departments, resources)`` usage weights: the common applications plus the department's."""
    weights = np.zeros((len(DEPARTMENT_NAMES), len(RESOURCES)))
    for row, name in enumerate(DEPARTMENT_NAMES):
        for resource, weight in {**COMMON_RESOURCES, **DEPARTMENTS[name][1]}.items():
            weights[row, resource_index(resource)] += weight
    return weights
