"""contrib/improvd.service against the daemon's exit statuses and notify protocol."""

from __future__ import annotations

import configparser
from pathlib import Path

from improvd.daemon.errors import EXIT_BACKEND_LOST

UNIT = Path(__file__).resolve().parents[1] / "contrib" / "improvd.service"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    return parser


def test_the_service_is_notify_with_a_watchdog_and_waits_for_its_ports():
    service = unit()["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) >= 2  # the supervisor pings every half of it
    assert "--wait-for-ports" in service["ExecStart"]
    assert service["TimeoutStartSec"] == "infinity"  # waiting for a keyboard comes before READY


def test_every_failure_but_bad_settings_is_restarted_and_never_given_up():
    u = unit()
    assert u["Service"]["Restart"] == "on-failure"
    prevented = u["Service"]["RestartPreventExitStatus"].split()
    assert prevented == ["2"] and str(EXIT_BACKEND_LOST) not in prevented
    assert u["Unit"]["StartLimitIntervalSec"] == "0"
    text = UNIT.read_text()
    assert "# BindsTo=jackd.service" in text and "# After=jackd.service" in text
