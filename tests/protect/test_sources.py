"""What a per-address limit counts: IPv4 addresses as they are, IPv6 addresses by their network."""

from __future__ import annotations

import pytest

from mlobs.protect.settings import ProtectSettings
from mlobs.protect.sources import source


def test_ipv4_addresses_and_names_count_as_themselves():
    assert source("203.0.113.9") == "203.0.113.9"
    assert source(None) is None
    assert source("unix-socket-peer") == "unix-socket-peer"


@pytest.mark.parametrize("address", ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:a:b:c:d",
                                     "2001:DB8:1:2::99", "2001:db8:1:2::5%eth0"])
def test_every_address_of_one_ipv6_64_counts_as_one_source(address):
    assert source(address) == "2001:db8:1:2::/64"


def test_the_next_64_is_another_source_and_the_prefix_is_a_setting():
    assert source("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert source("2001:db8:1:2::1", 128) == "2001:db8:1:2::1/128"
    assert source("2001:db8:1:2::1", 48) == source("2001:db8:1:ffff::1", 48) == "2001:db8:1::/48"
    assert ProtectSettings().ipv6_source_prefix == 64
    with pytest.raises(ValueError):
        ProtectSettings(ipv6_source_prefix=129)


def test_an_ipv4_mapped_address_counts_as_the_ipv4_address_it_is():
    assert source("::ffff:203.0.113.9") == "203.0.113.9"


def test_loopback_and_garbage_with_colons_stay_bounded_keys():
    assert source("::1") == "::/64"
    assert source("not:an:address") == "not:an:address"
