"""Settings: the table (the fields of `Settings`), the kinds of values and their resolution."""

from pytest_promptopt.settings.kinds import CACHE_MODES as CACHE_MODES
from pytest_promptopt.settings.kinds import Kind as Kind
from pytest_promptopt.settings.kinds import PriceEntry as PriceEntry
from pytest_promptopt.settings.kinds import Prices as Prices
from pytest_promptopt.settings.model import DEFAULT_MODEL as DEFAULT_MODEL
from pytest_promptopt.settings.model import SETTINGS as SETTINGS
from pytest_promptopt.settings.model import SIMULATED_MODEL as SIMULATED_MODEL
from pytest_promptopt.settings.model import OptimizeSettings as OptimizeSettings
from pytest_promptopt.settings.model import Settings as Settings
from pytest_promptopt.settings.resolve import resolve_settings as resolve_settings
from pytest_promptopt.settings.table import SettingSpec as SettingSpec
