"""Budget strings as users type them."""

import pytest

from edgeprune.errors import BudgetError
from edgeprune.prune.budgets import check, parse_budget


@pytest.mark.parametrize("kind,text,value", [
    ("macs", "1.2M", 1.2e6), ("macs", "500k", 5e5), ("macs", "123456", 123456), ("flops", "2G", 2e9),
    ("params", "100k", 1e5), ("flash", "256KiB", 262144), ("flash", "1MB", 1e6), ("ram", "64kib", 65536),
    ("ram", "48000", 48000), ("ram", "2MiB", 2 * 1024**2), ("latency", "20ms", 20.0), ("latency", "1.5s", 1500.0),
    ("latency", "800us", 0.8),
])
def test_absolute(kind, text, value):
    b = parse_budget(kind, text)
    assert b.value == pytest.approx(value) and b.fraction is None


def test_percentage_resolves_against_dense():
    b = parse_budget("macs", "50%")
    assert b.value is None and b.fraction == 0.5
    assert b.resolve(3_000_000).value == 1_500_000


@pytest.mark.parametrize("kind,text", [("macs", "12 apples"), ("flash", "10ms"), ("latency", "64KiB"),
                                       ("ram", "-5"), ("macs", "150%"), ("macs", "0%"), ("params", "")])
def test_bad_units_name_the_budget(kind, text):
    with pytest.raises(BudgetError, match=f"--{kind}"):
        parse_budget(kind, text)


def test_check_reports_ratio():
    status = check([parse_budget("ram", "10000")], {"ram": 12000})
    assert status["ram"]["met"] is False and status["ram"]["ratio"] == pytest.approx(1.2)
