import re

import numpy as np
import pytest

from ztad.synth import catalogue as cat
from ztad.synth.organisation import (
    DESKTOP,
    LAPTOP,
    PHONE,
    build_organisation,
    device_names,
    user_ids,
)
from ztad.synth.places import CITY_COUNTRIES


@pytest.fixture(scope="module")
def org():
    return build_organisation(800, np.random.default_rng(1))


def test_user_ids_are_distinct_and_zero_padded():
    assert list(user_ids(3)) == ["u00001", "u00002", "u00003"]
    assert user_ids(123456)[-1] == "u123456"


def test_everybody_has_a_laptop_and_one_to_three_devices(org):
    owned = (org.device >= 0).sum(axis=1)
    assert (org.device[:, LAPTOP] >= 0).all()
    assert owned.min() == 1 and owned.max() == 3
    assert {1, 2, 3} <= set(owned.tolist())
    assert (org.device[org.remote, DESKTOP] == -1).all()  # no office desk for remote staff
    assert (org.device_cum[org.device[:, PHONE] < 0, PHONE] == org.device_cum[org.device[:, PHONE] < 0, LAPTOP]).all()


def test_devices_are_distinct_and_all_named_alike(org):
    names = org.device_names
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"(LT|MB|DT)-[0-9A-F]{10}", n) for n in names)


def test_device_names_avoid_names_already_taken():
    kinds = np.zeros(50, dtype=np.int64)
    first = device_names(kinds, np.random.default_rng(5))
    again = device_names(kinds, np.random.default_rng(5))
    assert list(first) == list(again)  # same draws would give the same names ...
    avoiding = device_names(kinds, np.random.default_rng(5), avoid=first)
    assert not set(avoiding) & set(first)  # ... but taken names are never reused


def test_staff_use_common_applications_and_their_departments_only(org):
    allowed = cat.department_weights()[org.department] > 0
    assert ((org.resource_weights > 0) <= allowed).all()
    email = cat.resource_index("email")
    assert (org.resource_weights[:, email] > 0).all()
    engineers = org.department == cat.DEPARTMENT_NAMES.index("engineering")
    payroll = cat.resource_index("payroll")
    assert (org.resource_weights[engineers, payroll] == 0).all()
    assert np.allclose(org.resource_cum[:, -1], 1.0)


def test_departments_and_profiles_all_occur(org):
    assert set(np.unique(org.department)) == set(range(len(cat.DEPARTMENT_NAMES)))
    assert set(np.unique(org.profile)) == {cat.DAY, cat.NIGHT, cat.WEEKEND}


def test_work_weeks_follow_the_profile(org):
    day_or_night = org.profile != cat.WEEKEND
    assert (org.workdays[day_or_night] == [True] * 5 + [False] * 2).all()
    weekenders = org.workdays[org.profile == cat.WEEKEND]
    assert weekenders[:, 5:].all() and (weekenders.sum(axis=1) == 5).all()
    night = org.profile == cat.NIGHT
    assert (org.shift_start[night] >= 20).all() and (org.shift_start[~night] <= 12).all()
    assert ((org.shift_hours >= 6.5) & (org.shift_hours <= 12.5)).all()
    assert ((org.daily_rate >= 5) & (org.daily_rate <= 20)).all()


def test_remote_staff_live_in_another_city_of_their_office_country(org):
    assert org.remote.any()
    assert (org.home[org.remote] != org.office[org.remote]).all()
    assert (CITY_COUNTRIES[org.home] == CITY_COUNTRIES[org.office]).all()
    assert (org.home[~org.remote] == org.office[~org.remote]).all()
    assert (org.home_share[org.remote] == 1.0).all()


def test_one_seed_one_organisation():
    a = build_organisation(100, np.random.default_rng(3))
    b = build_organisation(100, np.random.default_rng(3))
    c = build_organisation(100, np.random.default_rng(4))
    assert list(a.device_names) == list(b.device_names)
    assert (a.department == b.department).all()
    assert list(a.device_names) != list(c.device_names)
